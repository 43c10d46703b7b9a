"""The Gatys et al. (2015) teacher: optimise the pixels of one image against the perceptual loss.

"A Neural Algorithm of Artistic Style" (Gatys, Ecker & Bethge 2015) stylises a photo by gradient
descent on the image itself, usually with L-BFGS (as in jcjohnson/neural-style). It is slow — one VGG
forward and backward per iteration, hundreds of iterations — but it is the reference: Johnson et al.
(2016, §4.1) score their feed-forward network by the L-BFGS iteration whose loss it matches. This
module is that reference, with exactly the loss of training (:mod:`stylenet.loss`, one implementation).

Command (Hydra, conf/gatys.yaml; see docs/gatys.md)::

    python -m stylenet.gatys style=wave content=photo.jpg [out=...] [size=512] [iterations=500] ...

Library: :func:`stylise` runs the optimisation and returns the image plus the loss curve (one row
per iteration with the wall-clock time at which that image existed) — what :mod:`stylenet.evaluate`
needs to find the teacher-equivalent iteration count.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from stylenet.color import luminance, match_luminance, preserve_color
from stylenet.errors import StylenetError
from stylenet.loss import PerceptualLoss

TERMS = ("content", "style", "tv", "total")
OPTIMIZERS = ("lbfgs", "adam")
MIN_SCALE_SIDE = 64  # coarse-to-fine never goes below this long side: VGG's relu4_3 would be 8×8 or less


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
        return {k: self.history[-1][k] for k in TERMS}


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings measure the computation and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


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


def _resize(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)


def _fit(size_hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    h, w = size_hw
    s = long_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def make_init(init: str | torch.Tensor, content: torch.Tensor, seed: int | None = 0) -> torch.Tensor:
    """The starting image: ``"content"`` (the photo, as Johnson et al. compare against), ``"noise"``
    (white noise in [0, 1], Gatys et al.'s start; reproducible through ``seed``) or a given image
    (resized to the photo). Always a fresh contiguous tensor: the caller's is never touched."""
    if isinstance(init, torch.Tensor):
        x = init if init.dim() == 4 else init.unsqueeze(0)
        return _resize(x.to(content.device, torch.float32), tuple(content.shape[-2:])).clone(memory_format=torch.contiguous_format)
    if init == "content":
        return content.detach().float().clone(memory_format=torch.contiguous_format)
    if init == "noise":
        g = torch.Generator(device="cpu")
        g.manual_seed(0 if seed is None else int(seed))
        return torch.rand(content.shape, generator=g).to(content.device)
    raise ValueError(f"init must be 'content', 'noise' or an image tensor, got {init!r}")


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


def stylise(
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
    preserve_colors: bool = False,
    history_size: int = 100,
    line_search: str | None = None,
    stop_below: float | None = None,
    on_iteration: Callable[[dict[str, float], torch.Tensor], None] | None = None,
    progress: bool = False,
) -> TeacherResult:
    """Optimise an image for ``loss`` starting from ``init``; returns the image and the loss curve.

    ``content``: 1×3×H×W in [0, 1] at the output size. ``styles`` (one image or several, blended by
    ``blend_weights``) are set on ``loss`` here; when None the style already set on ``loss`` is used
    (evaluation, training callbacks). ``style_scale``: style long side = style_scale × the current
    output long side (neural-style's ``-style_scale``), recomputed at each scale; None keeps the style
    images at the size given. ``scales`` > 1 runs coarse-to-fine, ``iterations`` at every scale.
    ``preserve_colors``: luminance-only transfer (Gatys et al. 2016): optimise the grey luminance of the
    photo against the luminance-matched style, then put the photo's chrominance back.
    ``stop_below``: stop at the first iteration whose total loss is ≤ this (evaluation's early exit).

    history rows: ``iteration`` (updates applied to the image), ``time`` (seconds since the start when
    that image existed; loss evaluations done only for recording are not counted), ``scale`` and the
    weighted loss terms of that image. Row 0 is the starting image. Raises :class:`TeacherDiverged` on
    a non-finite loss or image.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    if content.dim() == 3:
        content = content.unsqueeze(0)
    device = next(loss.encoder.parameters()).device
    photo = content.to(device, torch.float32)
    style_list = [styles] if isinstance(styles, torch.Tensor) else (list(styles) if styles is not None else None)
    if style_list is None and (style_scale is not None or preserve_colors):
        raise ValueError("style_scale and preserve_colors need the style images (styles=...)")
    if style_list is None and not loss.has_style:
        raise ValueError("no style: pass styles=... or call loss.set_style first")
    target = luminance(photo) if preserve_colors else photo
    if preserve_colors:
        style_list = [match_luminance(s.to(device, torch.float32), photo) for s in style_list]

    sides = scale_sides(max(photo.shape[-2:]), scales)
    history: list[dict[str, float]] = []
    x: torch.Tensor | None = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=iterations * len(sides), desc="gatys", unit="it", file=sys.stderr, dynamic_ncols=True)
    start: float | None = None
    recording = 0.0  # seconds spent on evaluations done only to record the final loss; not teacher time
    step_done = 0
    try:
        for level, side in enumerate(sides):
            hw = tuple(photo.shape[-2:]) if side == sides[-1] else _fit(tuple(photo.shape[-2:]), side)
            level_target = _resize(target, hw)
            if style_list is not None and (level == 0 or style_scale is not None):
                imgs = [s.to(device, torch.float32) for s in style_list]
                imgs = [s if s.dim() == 4 else s.unsqueeze(0) for s in imgs]
                if style_scale is not None:
                    imgs = [_resize(s, _fit(tuple(s.shape[-2:]), max(1, round(style_scale * side)))) for s in imgs]
                loss.set_style(imgs, blend_weights)
            if start is None:
                # The clock starts once the style is set: Gram targets are a per-style cost, paid once by
                # the network too (at training), not per photo.
                synchronize(device)
                start = time.perf_counter()
            cf = loss.content_features(level_target)
            if x is None:
                start_img = make_init(init, level_target, seed)
                if preserve_colors and not (isinstance(init, str) and init == "content"):
                    start_img = luminance(start_img)
            else:
                start_img = _resize(x.detach(), hw)
            x = start_img.clone(memory_format=torch.contiguous_format).requires_grad_(True)
            opt = _make_optimizer(optimizer, x, lr, history_size, line_search)
            evals: list[dict[str, torch.Tensor]] = []

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                terms = loss(x, content_features=cf)
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
                if last:
                    with torch.no_grad():  # the loss of the final image, for the record only
                        terms = {k: v.detach() for k, v in loss(x, content_features=cf).items()}
                    synchronize(device)
                    recording += time.perf_counter() - now
                else:
                    evals.clear()
                    opt.step(closure)
                    terms = evals[0]  # loss of the image *before* this update = image number `step_done`
                row = {k: float(v) for k, v in terms.items()}
                if not math.isfinite(row["total"]):
                    raise TeacherDiverged(f"the teacher diverged (loss {row['total']}) at scale {side}px", history)
                history.append({"iteration": step_done, "time": image_time, "scale": side, **row})
                if on_iteration is not None:
                    on_iteration(history[-1], before if before is not None else x.detach())
                if last or (stop_below is not None and final_level and row["total"] <= stop_below):
                    break
                step_done += 1
                if not torch.isfinite(x).all():
                    raise TeacherDiverged(
                        f"the teacher diverged (non-finite pixels) at scale {side}px after {step_done} iterations; "
                        "lower lr, use optimizer=lbfgs or init=content",
                        history,
                    )
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['total']:.4g}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    image = x.detach().clamp(0, 1)
    if preserve_colors:
        image = preserve_color(photo, image)
    return TeacherResult(image=image, history=history, seconds=time.perf_counter() - start - recording)


# ---- command ------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise StylenetError(f"device={name} asked for but no CUDA GPU is available; use device=cpu or device=auto")
    return dev


def user_path(p: str | Path) -> Path:
    """A path from the config: absolute, or relative to where the command was run (hydra.job.chdir is
    false, so the working directory is the user's)."""
    return Path(str(p)).expanduser()


def resolve_style_entry(entry: str, cfg) -> Path:
    """One entry of ``styles=[...]``: an image path, or the name of a conf/style/<name>.yaml."""
    from omegaconf import OmegaConf

    from stylenet.config import CONFIG_DIR

    path = user_path(entry)
    if path.is_file():
        return path
    yaml = CONFIG_DIR / "style" / f"{entry}.yaml"
    if yaml.is_file():
        merged = OmegaConf.merge({"paths": cfg.paths}, {"style": OmegaConf.load(yaml)})
        return user_path(merged.style.image)
    names = sorted(p.stem for p in (CONFIG_DIR / "style").glob("*.yaml"))
    raise StylenetError(f"style {entry!r} is neither an image file nor a style name (known: {', '.join(names)})")


def default_out(content: Path, style_name: str) -> Path:
    return Path(f"{content.stem}_{style_name}_gatys.png")


def run(cfg) -> Path:
    """The command behind ``python -m stylenet.gatys``; returns the written image's path."""
    from omegaconf import OmegaConf

    from stylenet.files import atomic_save_image
    from stylenet.images import ImageError, is_image_path, load_image
    from stylenet.loss import build_perceptual_loss
    from stylenet.vgg import VGGWeightsError

    if cfg.optimizer not in OPTIMIZERS:
        raise StylenetError(f"optimizer={cfg.optimizer} is not one of {', '.join(OPTIMIZERS)}")
    if cfg.line_search not in (None, "strong_wolfe"):
        raise StylenetError(f"line_search={cfg.line_search} must be null or strong_wolfe")
    if int(cfg.iterations) < 0 or int(cfg.size) < 1 or int(cfg.scales) < 1 or int(cfg.save_every) < 0:
        raise StylenetError("iterations and save_every must be >= 0, size and scales >= 1")
    if OmegaConf.is_missing(cfg, "content") or not cfg.content:
        raise StylenetError("give the photo: python -m stylenet.gatys style=wave content=path/to/photo.jpg")
    content_path = user_path(cfg.content)
    # Every input is checked before any work (one clear line each).
    if cfg.styles:
        style_paths = [resolve_style_entry(str(e), cfg) for e in cfg.styles]
        style_name = "+".join(p.stem for p in style_paths)
    else:
        style_paths = [user_path(cfg.style.image)]
        style_name = str(cfg.style.name)
    blend = [float(w) for w in cfg.blend] if cfg.blend else None
    if blend is not None and (len(blend) != len(style_paths) or any(w < 0 for w in blend) or sum(blend) <= 0):
        raise StylenetError(f"blend needs one non-negative weight per style ({len(style_paths)}), not all zero; got {blend}")
    for p in style_paths:
        if not p.is_file():
            raise StylenetError(f"style image not found: {p}; pick style=<name> from conf/style/ or styles=[path,...]")
    try:
        photo = load_image(content_path, size=int(cfg.size))
        style_size = None if cfg.style_scale is not None else (int(cfg.style.size) if cfg.style.get("size") else None)
        styles = [load_image(p, size=style_size) for p in style_paths]
        init: str | torch.Tensor = str(cfg.init)
        if init not in ("content", "noise"):
            if not is_image_path(init) and not user_path(init).is_file():
                raise StylenetError(f"init={init} is not content, noise or an image file")
            init = load_image(user_path(init))
    except ImageError as e:
        raise StylenetError(str(e)) from None
    out = user_path(cfg.out) if cfg.out else default_out(content_path, style_name)
    if not is_image_path(out):
        raise StylenetError(f"out={out} needs an image extension (.png, .jpg, ...)")
    device = resolve_device(str(cfg.device))

    loss_cfg = OmegaConf.to_container(cfg.loss, resolve=True)
    if cfg.style.get("style_weight") is not None and not cfg.styles:
        loss_cfg["style_weight"] = float(cfg.style.style_weight)  # a style's own weight, as in training
    try:
        loss = build_perceptual_loss(**loss_cfg).to(device)
    except VGGWeightsError as e:
        raise StylenetError(str(e)) from None

    writer = None
    if cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(user_path(cfg.tensorboard)))
    save_every = int(cfg.save_every)

    def on_iteration(row: dict[str, float], image: torch.Tensor) -> None:
        it = int(row["iteration"])
        if writer is not None:
            for k in TERMS:
                writer.add_scalar(f"gatys/{k}", row[k], it)
        if save_every and it > 0 and it % save_every == 0:
            img = image.clamp(0, 1)
            if cfg.preserve_color:
                img = preserve_color(photo.to(img.device), img)
            atomic_save_image(img, out.with_name(f"{out.stem}_iter{it:05d}{out.suffix}"))
            if writer is not None:
                writer.add_image("gatys/image", img[0].cpu(), it)

    try:
        result = stylise(
            loss, photo.to(device),
            styles=[s.to(device) for s in styles], blend_weights=blend,
            style_scale=None if cfg.style_scale is None else float(cfg.style_scale),
            iterations=int(cfg.iterations), optimizer=str(cfg.optimizer),
            lr=None if cfg.lr is None else float(cfg.lr), history_size=int(cfg.history_size),
            line_search=cfg.line_search or None,
            init=init if isinstance(init, str) else init.to(device), seed=cfg.seed, scales=int(cfg.scales),
            preserve_colors=bool(cfg.preserve_color), on_iteration=on_iteration, progress=bool(cfg.progress),
        )
    finally:
        if writer is not None:
            writer.close()
    atomic_save_image(result.image, out)
    first, last = result.history[0], result.history[-1]
    print(
        f"wrote {out} ({result.image.shape[-1]}x{result.image.shape[-2]}): total loss {first['total']:.4g} -> {last['total']:.4g} "
        f"(content {last['content']:.4g}, style {last['style']:.4g}, tv {last['tv']:.4g}) in {int(last['iteration'])} "
        f"iterations, {result.seconds:.1f}s on {device}"
    )
    return out


def main() -> None:
    import hydra
    from omegaconf import DictConfig

    import stylenet.config  # noqa: F401  (registers the ${stylenet_root:} resolver before Hydra composes)
    from stylenet.config import CONFIG_DIR

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="gatys")
    def _main(cfg: DictConfig) -> None:
        try:
            run(cfg)
        except StylenetError as e:  # TeacherDiverged included: reported, nothing saved
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)

    _main()


if __name__ == "__main__":
    main()
