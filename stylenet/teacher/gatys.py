"""The Gatys et al. (2015) teacher: optimise the pixels of one image against the perceptual loss.

"A Neural Algorithm of Artistic Style" (Gatys, Ecker & Bethge 2015) stylises a photo by gradient
descent on the image itself, usually with L-BFGS (as in jcjohnson/neural-style). It is slow — one VGG
forward and backward per iteration, hundreds of iterations — but it is the reference: Johnson et al.
(2016, §4.1) score their feed-forward network by the L-BFGS iteration whose loss it matches. This
module is that reference, with exactly the loss of training (:mod:`stylenet.perceptual.loss`, one implementation).

Command (Hydra, conf/gatys.yaml; see docs/gatys.md)::

    python -m stylenet gatys style=wave content=photo.jpg [out=...] [size=512] [iterations=500] ...

Library: :func:`stylize` runs the optimisation and returns the image plus the loss curve (one row
per iteration with the wall-clock time at which that image existed) — what :mod:`stylenet.teacher.evaluate`
needs to find the teacher-equivalent iteration count.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from stylenet.data.images import long_side_hw, resize_tensor
from stylenet.errors import StylenetError
from stylenet.perceptual import color
from stylenet.perceptual.color import luminance, match_luminance
from stylenet.perceptual.loss import PerceptualLoss
from stylenet.runtime import synchronize
from stylenet.teacher.scores import loss_columns

OPTIMIZERS = ("lbfgs", "adam")
# An image whose loss ends this many times above the best it reached has diverged: Adam at a huge lr ran to
# 1e27, finite, and the command wrote the white result. Not judged against the start: L-BFGS from the photo
# overshoots by 1e4x on its first steps and then converges.
EXPLODED = 1e3
MIN_SCALE_SIDE = 64  # coarse-to-fine never goes below this long side: VGG's relu4_3 would be 8×8 or less
# jcjohnson/neural-style's `-init random` (the start of Johnson et al.'s comparison): randn × 0.001 in Caffe's
# mean-subtracted 0–255 space, i.e. VGG's mean colour with a whisper of noise. Its mean pixel, as RGB in [0, 1]:
NEURAL_STYLE_MEAN = (123.68 / 255, 116.779 / 255, 103.939 / 255)
NEURAL_STYLE_NOISE = 0.001 / 255
INITS = ("noise", "uniform", "content")


def curve_spike(totals: Sequence[float]) -> int | None:
    """Where a teacher's curve left for good: the first iteration after its best whose loss is over
    ``EXPLODED`` × the best, when the curve *ends* that far above it (or not finite); else None.

    A late L-BFGS spike says nothing about the iterations before it: a network whose loss the curve reached
    before the spike is scored on the curve up to it (and flagged), instead of losing the whole photo.
    Transient spikes that the curve comes back from are not spikes here (L-BFGS from the photo overshoots
    1e4x on its first steps and converges)."""
    if not totals:
        return None
    best_i = min(range(len(totals)), key=lambda i: totals[i] if math.isfinite(totals[i]) else math.inf)
    best, last = totals[best_i], totals[-1]
    if not math.isfinite(best):
        return 0
    if math.isfinite(last) and not (best > 0 and last > EXPLODED * best):
        return None
    return next(i for i in range(best_i + 1, len(totals)) if not math.isfinite(totals[i]) or totals[i] > EXPLODED * best)


class TeacherDiverged(StylenetError, RuntimeError):
    """The optimisation produced a NaN/inf loss or image; carries the curve up to that point."""

    def __init__(self, message: str, history: list[dict[str, float]]):
        super().__init__(message)
        self.history = history


@dataclass
class TeacherResult:
    image: torch.Tensor  # 1×3×H×W, clamped to [0, 1] (colour-preserved when asked)
    history: list[dict[str, float]] = field(default_factory=list)  # iteration, time, scale, terms
    seconds: float = 0.0

    @property
    def final_loss(self) -> dict[str, float]:
        return {k: self.history[-1][k] for k in loss_columns()}


def scale_sides(size: int, scales: int) -> list[int]:
    """Long sides of the coarse-to-fine pyramid, coarsest first: size/2^(scales-1), ..., size.

    jcjohnson/neural-style's multires recipe: optimise small (global structure settles cheaply), upsample,
    continue at the next scale (detail). Levels below MIN_SCALE_SIDE are dropped.
    """
    if scales < 1:
        raise ValueError(f"scales must be >= 1, got {scales}")
    sides = [max(1, round(size / 2**k)) for k in range(scales - 1, -1, -1)]
    kept = [s for s in sides if s >= MIN_SCALE_SIDE]
    return kept or [size]


def _diverged(history: list[dict[str, float]], side: int, step_done: int) -> None:
    best = min(r["total"] for r in history)
    raise TeacherDiverged(
        f"the teacher diverged (loss {history[-1]['total']:.3g}, best {best:.3g}) at scale {side}px after {step_done} "
        "iterations; lower lr, use optimizer=lbfgs or init=content",
        history,
    )


def make_init(init: str | torch.Tensor, content: torch.Tensor, seed: int | None = 0) -> torch.Tensor:
    """The starting image: ``"content"`` (the photo), ``"noise"`` (jcjohnson/neural-style's random start, which
    Johnson et al. 2016 ran: the mean colour plus randn × 0.001 Caffe units, an almost flat image),
    ``"uniform"`` (white noise U(0, 1) per pixel: 35 % more iterations to a low loss on one photo, so it
    flatters strong networks; kept, named, for comparison with older figures) or a given image (resized to
    the photo). The noise is reproducible through ``seed``. Always a fresh contiguous tensor: the caller's
    is never touched."""
    if isinstance(init, torch.Tensor):
        x = init if init.dim() == 4 else init.unsqueeze(0)
        return resize_tensor(x.to(content.device, torch.float32), tuple(content.shape[-2:])).clone(memory_format=torch.contiguous_format)
    if init == "content":
        return content.detach().float().clone(memory_format=torch.contiguous_format)
    if init in ("noise", "uniform"):
        g = torch.Generator(device="cpu")
        g.manual_seed(0 if seed is None else int(seed))
        if init == "uniform":
            return torch.rand(content.shape, generator=g).to(content.device)
        mean = torch.tensor(NEURAL_STYLE_MEAN).view(1, 3, 1, 1)
        return (mean + NEURAL_STYLE_NOISE * torch.randn(content.shape, generator=g)).to(content.device)
    raise ValueError(f"init must be one of {', '.join(INITS)} or an image tensor, got {init!r}")


def _make_optimizer(
    name: str, x: torch.Tensor, lr: float | None, history_size: int, line_search: str | None = None
) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # One L-BFGS iteration per step() (max_iter=1, no line search): exactly one loss evaluation per
        # iteration, as jcjohnson/neural-style counts them; the curvature memory lives in the optimiser
        # state across steps. Tolerances off: we run the iterations asked for and stop ourselves.
        return torch.optim.LBFGS(
            # line_search="strong_wolfe" makes each iteration safe on badly scaled losses at the cost of
            # a few extra evaluations (their time is counted in the iteration).
            [x], lr=1.0 if lr is None else lr, max_iter=1, max_eval=25 if line_search else 1,
            history_size=history_size, tolerance_grad=-1.0, tolerance_change=-1.0, line_search_fn=line_search,
        )
    if name == "adam":
        # Pixels live in [0, 1] here; neural-style's Adam rate of 10 on 0–255 pixels is ≈0.04 on ours.
        return torch.optim.Adam([x], lr=0.02 if lr is None else lr)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def stylize(
    loss: PerceptualLoss,
    content: torch.Tensor,
    *,
    styles: torch.Tensor | Sequence[torch.Tensor] | None = None,
    blend_weights: Sequence[float] | None = None,
    style_scale: float | None = None,
    iterations: int = 500,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    init: str | torch.Tensor = "content",
    seed: int | None = 0,
    scales: int = 1,
    preserve_color: bool = False,
    history_size: int = 100,
    line_search: str | None = None,
    stop_below: float | None = None,
    on_iteration: Callable[[dict[str, float], torch.Tensor], None] | None = None,
    progress: bool = False,
    frame_terms: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    on_divergence: str = "raise",
) -> TeacherResult:
    """Optimise an image for ``loss`` starting from ``init``; returns the image and the loss curve.

    ``content``: 1×3×H×W in [0, 1] at the output size. ``styles`` (one image or several, blended by
    ``blend_weights``) are set on ``loss`` here; when None the style already set on ``loss`` is used
    (evaluation, training callbacks). ``style_scale``: style long side = style_scale × the current
    output long side (neural-style's ``-style_scale``), recomputed at each scale; None keeps the style
    images at the size given. ``scales`` > 1 runs coarse-to-fine, ``iterations`` at every scale.
    ``preserve_color``: luminance-only transfer (Gatys et al. 2016): optimise the grey luminance of the
    photo against the luminance-matched style, then put the photo's chrominance back.
    ``stop_below``: stop at the first iteration whose total loss is ≤ this (evaluation's early exit).
    ``frame_terms``: weighted terms of the image beyond the loss, by name, added to ``total`` and to the
    history (the video teacher's temporal term, :func:`stylenet.teacher.video.frame_terms`). One scale only.

    ``on_divergence``: ``"raise"`` (:class:`TeacherDiverged`) or ``"stop"`` (the evaluation's choice: stop there
    and return the curve so far, a non-finite loss recorded as an ``inf`` row; :func:`curve_spike` then says
    where the curve left, so the iterations before it still score a network).

    history rows: ``iteration`` (updates applied to the image), ``time`` (seconds since the start when
    that image existed; loss evaluations done only for recording are not counted), ``scale`` and the
    weighted loss terms of that image. Row 0 is the starting image. Raises :class:`TeacherDiverged` on
    a non-finite loss or image.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    if frame_terms and scales != 1:
        raise ValueError("terms across frames work at one scale: scales=1")
    if on_divergence not in ("raise", "stop"):
        raise ValueError(f"on_divergence must be 'raise' or 'stop', got {on_divergence!r}")
    if content.dim() == 3:
        content = content.unsqueeze(0)
    device = next(loss.encoder.parameters()).device
    photo = content.to(device, torch.float32)
    style_list = [styles] if isinstance(styles, torch.Tensor) else (list(styles) if styles is not None else None)
    if style_list is None and (style_scale is not None or preserve_color):
        raise ValueError("style_scale and preserve_color need the style images (styles=...)")
    if style_list is None and not loss.has_style:
        raise ValueError("no style: pass styles=... or call loss.set_style first")
    target = luminance(photo) if preserve_color else photo
    if preserve_color:
        style_list = [match_luminance(s.to(device, torch.float32), photo) for s in style_list]

    sides = scale_sides(max(photo.shape[-2:]), scales)
    history: list[dict[str, float]] = []
    x: torch.Tensor | None = None
    bar = None
    if progress:
        bar = tqdm(total=iterations * len(sides), desc="gatys", unit="it", file=sys.stderr, dynamic_ncols=True)
    start: float | None = None
    stopping, diverged, kept_image = on_divergence == "stop", False, None
    recording = 0.0  # seconds spent on evaluations done only to record the final loss; not teacher time
    step_done = 0
    try:
        for level, side in enumerate(sides):
            hw = tuple(photo.shape[-2:]) if side == sides[-1] else long_side_hw(tuple(photo.shape[-2:]), side)
            level_target = resize_tensor(target, hw)
            if style_list is not None and (level == 0 or style_scale is not None):
                imgs = [s.to(device, torch.float32) for s in style_list]
                imgs = [s if s.dim() == 4 else s.unsqueeze(0) for s in imgs]
                if style_scale is not None:
                    imgs = [resize_tensor(s, long_side_hw(tuple(s.shape[-2:]), max(1, round(style_scale * side)))) for s in imgs]
                loss.set_style(imgs, blend_weights)
            if start is None:
                # The clock starts once the style is set: Gram targets are a per-style cost, paid once by
                # the network too (at training), not per photo.
                synchronize(device)
                start = time.perf_counter()
            cf = loss.content_features(level_target)
            if x is None:
                start_img = make_init(init, level_target, seed)
                if preserve_color and not (isinstance(init, str) and init == "content"):
                    start_img = luminance(start_img)
            else:
                start_img = resize_tensor(x.detach(), hw)
            x = start_img.clone(memory_format=torch.contiguous_format).requires_grad_(True)
            opt = _make_optimizer(optimizer, x, lr, history_size, line_search)
            evals: list[dict[str, torch.Tensor]] = []

            def terms_of(img: torch.Tensor) -> dict[str, torch.Tensor]:
                terms = loss(img, content_features=cf)
                if frame_terms:
                    extra = {name: term(img) for name, term in frame_terms.items()}
                    total = terms["total"]
                    for value in extra.values():
                        total = total + value
                    terms = {**terms, **extra, "total": total}
                return terms

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                terms = terms_of(x)
                total = terms["total"]
                if not torch.isfinite(total):
                    raise TeacherDiverged(
                        f"the teacher diverged (loss {float(total)}) at scale {side}px after {step_done} iterations; "
                        "lower lr, use optimizer=lbfgs or init=content",
                        history,
                    )
                total.backward()
                evals.append({k: v.detach() for k, v in terms.items()})
                return total

            final_level = level == len(sides) - 1
            for it in range(iterations + 1):
                last = it == iterations
                if last and not final_level:
                    break  # the next scale records this image (upsampled) at its own resolution
                before = x.detach().clone() if on_iteration is not None else None
                synchronize(device)
                now = time.perf_counter()
                image_time = now - start - recording  # when image number `step_done` existed
                if stopping:
                    kept_image = x.detach().clone()  # the image of this row, should the next update be the bad one
                try:
                    if last:
                        with torch.no_grad():  # the loss of the final image, for the record only
                            terms = {k: v.detach() for k, v in terms_of(x).items()}
                        synchronize(device)
                        recording += time.perf_counter() - now
                    else:
                        evals.clear()
                        opt.step(closure)
                        terms = evals[0]  # loss of the image *before* this update = image number `step_done`
                    row = {k: float(v) for k, v in terms.items()}
                    if not math.isfinite(row["total"]):
                        raise TeacherDiverged(f"the teacher diverged (loss {row['total']}) at scale {side}px", history)
                except TeacherDiverged:
                    if not stopping:
                        raise
                    # This image's loss is not finite: record it as such and end the curve here.
                    history.append({"iteration": step_done, "time": image_time, "scale": side, **dict.fromkeys(loss_columns(), math.inf)})
                    diverged = True
                    break
                history.append({"iteration": step_done, "time": image_time, "scale": side, **row})
                if on_iteration is not None:
                    on_iteration(history[-1], before if before is not None else x.detach())
                if last or (stop_below is not None and final_level and row["total"] <= stop_below):
                    break
                step_done += 1
                best = min(r["total"] for r in history)
                if best > 0 and row["total"] > EXPLODED**3 * best:  # far gone: stop now rather than at the end
                    if stopping:
                        diverged = True
                        break
                    _diverged(history, side, step_done)
                if not torch.isfinite(x).all():
                    if stopping:  # the next image is not finite: its row says so, and the curve ends
                        history.append({**history[-1], "iteration": step_done, **dict.fromkeys(loss_columns(), math.inf)})
                        diverged = True
                        break
                    raise TeacherDiverged(
                        f"the teacher diverged (non-finite pixels) at scale {side}px after {step_done} iterations; "
                        "lower lr, use optimizer=lbfgs or init=content",
                        history,
                    )
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['total']:.4g}", refresh=False)
            if diverged:
                break
    finally:
        if bar is not None:
            bar.close()
    best = min(r["total"] for r in history)
    if not stopping and best > 0 and history[-1]["total"] > EXPLODED * best:
        _diverged(history, side, step_done)
    image = (x.detach() if kept_image is None or torch.isfinite(x).all() else kept_image).clamp(0, 1)
    if preserve_color:
        image = color.preserve_color(photo, image)
    return TeacherResult(image=image, history=history, seconds=time.perf_counter() - start - recording)
