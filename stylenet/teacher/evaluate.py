"""Score a trained network against the Gatys teacher, the way Johnson et al. (2016, §4.1, Fig. 5/Tab. 1)
did: "our network reaches the loss that L-BFGS reaches after N iterations, ~1000× faster".

For every photo:

1. the network stylises it; its loss terms are computed with the *training* loss (the PerceptualLoss
   rebuilt from the checkpoint's meta, the style image and size it was trained with), on its raw output
   as in training;
2. the teacher (:func:`stylenet.teacher.gatys.stylize`, same loss object) optimises pixels for up to K
   iterations from each start in ``init``: from seeded noise first (the paper's protocol: Johnson et al.
   ran jcjohnson/neural-style, whose default start is noise), then from the photo itself;
3. teacher-equivalent iterations = the first iteration whose total loss is ≤ the network's
   (``> K`` when none is); speed ratio = teacher time to that iteration / network forward time.

Teacher-equivalence alone cannot tell a network that barely stylises (a still-noisy teacher image
matches its loss early, and from the photo the teacher starts with zero content loss), so each photo
also reports the network's content loss and its style loss relative to the photo's own: how much of
the photo-to-painting gap the network closes.

Command (conf/evaluate.yaml, docs/gatys.md)::

    python -m stylenet evaluate ckpt=checkpoints/wave/last.ckpt photos=DIR [iterations=200] [size=256] [out=DIR]

Writes ``<out>/<photo>_<start>.csv`` (the teacher's curve from each start: iteration, time, content,
style, tv, total), ``<out>/<photo>.png`` (photo | network | teacher at the equivalent iteration, per
start | style), ``<out>/scores.csv`` (one row per photo) and ``<out>/summary.md`` (median and spread).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from stylenet.config import user_path
from stylenet.data.images import load_image, resize_tensor, resize_tensor_long_side
from stylenet.errors import StylenetError
from stylenet.networks.transformer import run_any_size
from stylenet.perceptual.loss import PerceptualLoss, build_perceptual_loss
from stylenet.runtime import measure
from stylenet.teacher.gatys import TeacherDiverged, curve_spike, stylize
from stylenet.teacher.scores import COARSE_FACTORS, PhotoScore, teacher_equivalent

if TYPE_CHECKING:
    from stylenet.teacher.cache import TeacherCache

MIN_COARSE_SIDE = 32  # a factor that would shrink the photo's short side below this is not measured (NaN)
# The largest photo and painting an evaluation loads: the teacher at 4096 px already costs ~2 min per L-BFGS
# iteration on 2 cores, and a painting's VGG pass grows with its area.
MAX_SCORING_SIDE = 4096


@torch.no_grad()
def time_network(net: torch.nn.Module, photo: torch.Tensor, repeats: int = 3) -> tuple[torch.Tensor, float]:
    """The network's raw output for ``photo`` and its forward time in seconds (:func:`stylenet.runtime.measure`:
    median of ``repeats`` runs after one warm-up run, so one-off allocation/cuDNN autotuning is not billed)."""
    out: dict[str, torch.Tensor] = {}

    def forward() -> None:
        out["y"] = run_any_size(net, photo)  # keep the last output only

    timing = measure(forward, runs=max(1, repeats), warmup=1, device=photo.device, track_memory=False)
    return out["y"], timing.median_ms / 1000.0


def warm_up(net: torch.nn.Module | None, loss: PerceptualLoss, device: torch.device) -> None:
    """Run both sides once on a small image before anything is timed: the first optimiser step pays
    one-off costs (lazy imports inside torch.optim, allocator and cuDNN set-up) that would otherwise be
    billed to the first photo's teacher. ``net`` None (another tool's outputs): the teacher alone."""
    x = torch.rand(1, 3, 32, 32, device=device)
    if net is not None:
        with torch.no_grad():
            run_any_size(net, x)
    stylize(loss, x, iterations=2)


@torch.no_grad()
def coarse_style_ratios(loss: PerceptualLoss, painting: torch.Tensor, image: torch.Tensor, photo: torch.Tensor,
                        factors: Sequence[int] = COARSE_FACTORS) -> dict[int, float]:
    """``image``'s style loss / ``photo``'s own, with both and the painting shrunk by each factor (the style
    measured where strokes are seen whole). The loss's style targets are restored afterwards."""
    saved = dict(loss.named_buffers(recurse=False))
    out: dict[int, float] = {}
    try:
        for f in factors:
            hw = (round(photo.shape[-2] / f), round(photo.shape[-1] / f))
            if min(hw) < MIN_COARSE_SIDE:
                out[f] = math.nan
                continue
            small = painting.to(photo.device, torch.float32)
            loss.set_style(resize_tensor_long_side(small, max(1, round(max(small.shape[-2:]) / f))))
            p = resize_tensor(photo, hw)
            own = float(loss(p, p)["style"])
            out[f] = float(loss(resize_tensor(image, hw), p)["style"]) / own if own > 0 else math.nan
    finally:
        for name, buf in saved.items():
            setattr(loss, name, buf)
    return out


def score_photo(
    net: torch.nn.Module,
    loss: PerceptualLoss,
    photo: torch.Tensor,
    name: str = "photo",
    *,
    iterations: int = 200,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    init: str = "content",
    seed: int | None = 0,
    repeats: int = 3,
    full_curve: bool = True,
    progress: bool = False,
) -> tuple[PhotoScore, torch.Tensor, torch.Tensor]:
    """Score one photo against the teacher from one start (``init``); see :func:`score_photo_starts`."""
    scores, net_img, teacher_imgs = score_photo_starts(
        net, loss, photo, name, inits=(init,), iterations=iterations, optimizer=optimizer, lr=lr, seed=seed,
        repeats=repeats, full_curve=full_curve, progress=progress,
    )
    return scores[0], net_img, teacher_imgs[0]


def score_photo_starts(
    net: torch.nn.Module,
    loss: PerceptualLoss,
    photo: torch.Tensor,
    name: str = "photo",
    *,
    inits: Sequence[str] = ("noise", "content"),
    iterations: int = 200,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    seed: int | None = 0,
    repeats: int = 3,
    full_curve: bool = True,
    progress: bool = False,
    output: torch.Tensor | None = None,
    cache: TeacherCache | None = None,
    painting: torch.Tensor | None = None,
) -> tuple[list[PhotoScore], torch.Tensor, list[torch.Tensor]]:
    """Score one photo (1×3×H×W in [0, 1], on the loss's device; style already set on ``loss``) against
    the teacher started from each of ``inits`` ("noise", seeded by ``seed``, or "content", the photo).

    ``output``: score this stylised image (made by another tool, the photo's size) instead of running
    ``net`` (None then); its time is unknown (NaN, "n/a"). ``cache``: the teacher's curves for this photo
    (:class:`~stylenet.teacher.cache.TeacherCache`): a curve that serves is reused, the teacher's image
    then being its last one.

    ``painting``: the style image as the loss has it; given, the style is also measured coarser
    (:func:`coarse_style_ratios`).

    The network runs (and is timed) once. Returns one score per start, the network's output (clamped)
    and, per start, the teacher's image at the equivalent iteration (its last image when not reached).
    ``full_curve=False`` stops each teacher as soon as it reaches the network's loss (cheaper, same score).
    A teacher curve that leaves for good (:func:`~stylenet.teacher.gatys.curve_spike`) scores the network on
    the iterations before it, flagged in ``spike``; when the network's loss was not reached by then the
    photo fails (:class:`TeacherDiverged`).
    """
    if not loss.has_style:
        raise ValueError("loss.set_style(...) must be called before scoring")
    if output is None:
        net_out, net_seconds = time_network(net, photo, repeats)
    else:
        net_out, net_seconds = output.to(photo.device, photo.dtype), math.nan
    with torch.no_grad():
        net_terms = {k: float(v) for k, v in loss(net_out, photo).items()}
        photo_style = float(loss(photo, photo)["style"])
    if not math.isfinite(net_terms["total"]):
        raise StylenetError(f"{name}: the network's loss is not finite ({net_terms['total']}); the checkpoint is broken")
    coarse = coarse_style_ratios(loss, painting, net_out, photo) if painting is not None else {}
    scores, images = [], []
    for init in inits:
        kept: dict[str, torch.Tensor] = {}

        def keep(row: dict[str, float], image: torch.Tensor) -> None:
            # The image at the first iteration reaching the network's loss, for the side-by-side figure.
            if "equiv" not in kept and row["total"] <= net_terms["total"]:
                kept["equiv"] = image.clamp(0, 1)

        cached = cache.get(str(init), net_terms["total"]) if cache is not None else None
        if cached is not None:
            history, image = cached
            image = photo if image is None else image.to(photo.device)
        else:
            result = stylize(
                loss, photo, iterations=iterations, optimizer=optimizer, lr=lr, init=init, seed=seed,
                stop_below=None if full_curve else net_terms["total"], on_iteration=keep, progress=progress,
                on_divergence="stop",
            )
            history, image = result.history, kept.get("equiv", result.image)
            if cache is not None:
                cache.put(str(init), history, result.image)
        totals = [r["total"] for r in history]
        spike = curve_spike(totals)
        equiv = teacher_equivalent(totals[:spike], net_terms["total"])
        if spike is not None and equiv is None:
            best = min(totals[:spike]) if spike else math.inf
            raise TeacherDiverged(f"{name}: the teacher from {init} diverged at iteration {spike} (loss {totals[spike]:.3g}, best "
                                  f"{best:.3g}) before reaching the network's loss {net_terms['total']:.4g}", history)
        teacher_seconds = history[equiv]["time"] if equiv is not None else history[-1]["time"]
        scores.append(PhotoScore(name, net_terms, net_seconds, iterations, equiv, teacher_seconds, history, str(init), photo_style,
                                 spike, coarse))
        images.append(image)
    return scores, net_out.clamp(0, 1), images


def painting_scale(meta: dict[str, Any], style_scale: str | float | None) -> float | None:
    """The painting's long side per pixel of the photo's long side that scores a network, or None for the
    checkpoint's fixed style size.

    ``"train"``: the training run's own (style.size / data.image_size: a 256 px painting for 128 px crops is 2),
    so a network is scored at every photo size with the painting at the scale it learnt relative to the photo,
    as neural-style's ``-style_scale`` does; at the training size this is the training's style size exactly.
    A number: that ratio. None: the checkpoint's style size whatever the photo size (the old protocol)."""
    if style_scale is None:
        return None
    if isinstance(style_scale, str):
        if style_scale != "train":
            raise StylenetError(f"style_scale={style_scale} must be train, a number > 0 or null")
        style_size = (meta.get("style") or {}).get("size")
        image_size = (meta.get("train") or {}).get("image_size")
        return float(style_size) / float(image_size) if style_size and image_size else None
    ratio = float(style_scale)
    if not (math.isfinite(ratio) and 0 < ratio <= 16):
        raise StylenetError(f"style_scale={style_scale} must be a number in (0, 16], train or null")
    return ratio


def effective_loss_config(meta_loss: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's training loss, with the non-null keys of ``overrides`` (evaluate's ``loss.*``)."""
    cfg = dict(meta_loss)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def training_loss(meta: dict[str, Any], device: torch.device, style_image: str | None = None, style_size: int | None = None,
                  overrides: dict[str, Any] | None = None) -> tuple[PerceptualLoss, torch.Tensor, dict[str, Any], Path]:
    """The perceptual loss a checkpoint was trained with, rebuilt from its metadata, its style set:
    ``(loss, style image, loss config, style path)``. ``style_image``/``style_size``/``overrides`` replace
    the checkpoint's (trained on another machine, offline weights, ...)."""
    style_meta = meta.get("style") or {}
    style_path = user_path(style_image or style_meta.get("image") or "")
    if not style_path.is_file():
        raise StylenetError(f"style image {style_path} (from the checkpoint) not found; pass style_image=PATH")
    loss_cfg = effective_loss_config(meta.get("loss") or {}, overrides or {})
    style = load_image(style_path, size=int(style_size or style_meta.get("size") or 0) or None)
    try:
        loss = build_perceptual_loss(**loss_cfg).to(device)
    except TypeError as e:
        raise StylenetError(f"the checkpoint's loss config {sorted(loss_cfg)} does not fit this stylenet ({e})") from None
    loss.set_style(style.to(device))
    return loss, style, loss_cfg, style_path
