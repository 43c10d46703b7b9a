"""``python -m stylenet gatys``: stylise one photo with the Gatys et al. (2015) teacher (conf/gatys.yaml).

    python -m stylenet gatys style=wave content=photo.jpg [out=...] [size=512] [iterations=500] ...
    python -m stylenet gatys styles=[wave,painting.jpg] blend=[0.7,0.3] content=photo.jpg

The optimisation itself is :func:`stylenet.teacher.gatys.stylize`; docs/gatys.md has every option.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from PIL import Image

from stylenet.cli.entry import hydra_command
from stylenet.config import CONFIG_DIR, user_path
from stylenet.data.images import atomic_save_image, is_image_path, load_image, long_side_hw
from stylenet.errors import StylenetError
from stylenet.files import check_writable_dir
from stylenet.inference.video import is_video_path, output_suffix, read_frames, write_frames
from stylenet.perceptual.color import preserve_color
from stylenet.perceptual.loss import build_perceptual_loss, one_style_loss
from stylenet.perceptual.terms import all_terms
from stylenet.runtime import resolve_device
from stylenet.teacher.flicker import warping_error
from stylenet.teacher.gatys import INITS, OPTIMIZERS, stylize
from stylenet.teacher.scores import loss_columns
from stylenet.teacher.video import stylize_video


def resolve_style_entry(entry: str, cfg) -> Path:
    """One entry of ``styles=[...]``: an image path, or the name of a conf/style/<name>.yaml."""
    path = user_path(entry)
    if path.is_file():
        return path
    yaml = CONFIG_DIR / "style" / f"{entry}.yaml"
    if yaml.is_file() and not entry.startswith("_"):  # _base.yaml is what the styles share, not a style
        merged = OmegaConf.merge({"paths": cfg.paths}, {"style": OmegaConf.load(yaml)})
        return user_path(merged.style.image)
    names = sorted(p.stem for p in (CONFIG_DIR / "style").glob("*.yaml") if not p.stem.startswith("_"))
    raise StylenetError(f"style {entry!r} is neither an image file nor a style name (known: {', '.join(names)})")


def default_out(content: Path, style_name: str) -> Path:
    return Path(f"{content.stem}_{style_name}_gatys.png")


def _load_styles(cfg, style_paths: list[Path]) -> list[torch.Tensor]:
    style_size = None if cfg.style_scale is not None else (int(cfg.style.size) if cfg.style.get("size") else None)
    return [load_image(p, size=style_size) for p in style_paths]


def _build_loss(cfg, device: torch.device):
    loss_cfg = OmegaConf.to_container(cfg.loss, resolve=True)
    if not cfg.styles:  # a style's own weight, as in training; a blend of paintings keeps the loss's
        loss_cfg = one_style_loss(loss_cfg, cfg.style)
    return build_perceptual_loss(**loss_cfg).to(device)


def run_video(cfg, video: Path, style_paths: list[Path], style_name: str, blend: list[float] | None) -> Path:
    """The teacher on a film (:func:`stylenet.teacher.video.stylize_video`, Ruder et al. 2016); ``temporal_weight=0``
    is the teacher frame by frame. Writes a video and prints its warping error."""
    if int(cfg.scales) != 1 or cfg.preserve_color or int(cfg.save_every) or cfg.tensorboard:
        raise StylenetError("on a video the teacher runs with scales=1, preserve_color=false, save_every=0, tensorboard=null")
    weights = {t.weight_key: cfg.get(t.weight_key) or 0 for t in all_terms("frames")}
    for key, value in weights.items():
        if not float(value) >= 0:
            raise StylenetError(f"{key}={value} must be >= 0")
    weights = {key: float(value) for key, value in weights.items()}
    out = user_path(cfg.out) if cfg.out else Path(f"{video.stem}_{style_name}_gatys{output_suffix(video)}")
    if not is_video_path(out):
        raise StylenetError(f"out={out} needs a video extension (.mp4, .mkv, .mov)")
    check_writable_dir(out.parent, "folder of out=")
    frames, rate = read_frames(video, start=float(cfg.start), max_frames=int(cfg.max_frames) or None)
    if not frames:
        raise StylenetError(f"{video}: no frame to stylise")
    hw = long_side_hw(frames[0].shape[:2], int(cfg.size))
    frames = [np.array(Image.fromarray(f).resize(hw[::-1], Image.Resampling.LANCZOS)) for f in frames]
    device = resolve_device(str(cfg.device))
    loss = _build_loss(cfg, device)
    styles = [s.to(device) for s in _load_styles(cfg, style_paths)]
    extra = [t.name for t in all_terms("frames")]

    def progress(i: int, last: dict[str, float]) -> None:
        print(f"frame {i + 1}/{len(frames)}: content {last['content']:.4g}, style {last['style']:.4g}"
              + "".join(f", {k} {last[k]:.4g}" for k in extra if k in last), file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    results, pairs = stylize_video(
        loss, frames, weights=weights, init=str(cfg.init), on_frame=progress if cfg.progress else None,
        styles=styles, blend_weights=blend, style_scale=None if cfg.style_scale is None else float(cfg.style_scale),
        iterations=int(cfg.iterations), optimizer=str(cfg.optimizer), lr=None if cfg.lr is None else float(cfg.lr),
        history_size=int(cfg.history_size), line_search=cfg.line_search or None, seed=cfg.seed,
    )
    write_frames(results, out, float(rate))
    err, _ = warping_error(results, pairs)
    floor, _ = warping_error(frames, pairs)
    print(f"wrote {out} ({len(results)} frames of {hw[1]}x{hw[0]}, {time.perf_counter() - t0:.0f} s on {device}): "
          f"warping error {err:.5f} (the input's own {floor:.5f}), temporal_weight {weights.get('temporal_weight', 0.0):g}")
    return out


def run(cfg) -> Path:
    """The command behind ``python -m stylenet gatys``; returns the written image's path."""
    if cfg.optimizer not in OPTIMIZERS:
        raise StylenetError(f"optimizer={cfg.optimizer} is not one of {', '.join(OPTIMIZERS)}")
    if cfg.line_search not in (None, "strong_wolfe"):
        raise StylenetError(f"line_search={cfg.line_search} must be null or strong_wolfe")
    if int(cfg.iterations) < 0 or int(cfg.size) < 1 or int(cfg.scales) < 1 or int(cfg.save_every) < 0:
        raise StylenetError("iterations and save_every must be >= 0, size and scales >= 1")
    if OmegaConf.is_missing(cfg, "content") or not cfg.content:
        raise StylenetError("give the photo: python -m stylenet gatys style=wave content=path/to/photo.jpg")
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
    if is_video_path(content_path):
        return run_video(cfg, content_path, style_paths, style_name, blend)
    photo = load_image(content_path, size=int(cfg.size))
    styles = _load_styles(cfg, style_paths)
    init: str | torch.Tensor = str(cfg.init)
    if init not in INITS:
        if not is_image_path(init) and not user_path(init).is_file():
            raise StylenetError(f"init={init} is not {', '.join(INITS)} or an image file")
        init = load_image(user_path(init))
    out = user_path(cfg.out) if cfg.out else default_out(content_path, style_name)
    if not is_image_path(out):
        raise StylenetError(f"out={out} needs an image extension (.png, .jpg, ...)")
    check_writable_dir(out.parent, "folder of out=")  # before the optimisation, not after it
    device = resolve_device(str(cfg.device))

    loss = _build_loss(cfg, device)

    writer = None
    if cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(user_path(cfg.tensorboard)))
    save_every = int(cfg.save_every)

    def on_iteration(row: dict[str, float], image: torch.Tensor) -> None:
        it = int(row["iteration"])
        if writer is not None:
            for k in loss_columns():
                writer.add_scalar(f"gatys/{k}", row[k], it)
        if save_every and it > 0 and it % save_every == 0:
            img = image.clamp(0, 1)
            if cfg.preserve_color:
                img = preserve_color(photo.to(img.device), img)
            atomic_save_image(img, out.with_name(f"{out.stem}_iter{it:05d}{out.suffix}"))
            if writer is not None:
                writer.add_image("gatys/image", img[0].cpu(), it)

    try:
        result = stylize(
            loss, photo.to(device),
            styles=[s.to(device) for s in styles], blend_weights=blend,
            style_scale=None if cfg.style_scale is None else float(cfg.style_scale),
            iterations=int(cfg.iterations), optimizer=str(cfg.optimizer),
            lr=None if cfg.lr is None else float(cfg.lr), history_size=int(cfg.history_size),
            line_search=cfg.line_search or None,
            init=init if isinstance(init, str) else init.to(device), seed=cfg.seed, scales=int(cfg.scales),
            preserve_color=bool(cfg.preserve_color), on_iteration=on_iteration, progress=bool(cfg.progress),
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


def main(argv: list[str] | None = None) -> None:
    hydra_command("gatys", run, argv)


if __name__ == "__main__":
    main()
