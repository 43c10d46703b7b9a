"""``python -m stylenet gatys``: stylise one photo with the Gatys et al. (2015) teacher (conf/gatys.yaml).

    python -m stylenet gatys style=wave content=photo.jpg [out=...] [size=512] [iterations=500] ...
    python -m stylenet gatys styles=[wave,painting.jpg] blend=[0.7,0.3] content=photo.jpg

The optimisation itself is :func:`stylenet.teacher.gatys.stylize`; docs/gatys.md has every option.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from stylenet.cli.entry import hydra_command
from stylenet.config import CONFIG_DIR, user_path
from stylenet.data.images import is_image_path, load_image
from stylenet.errors import StylenetError
from stylenet.files import atomic_save_image, check_writable_dir
from stylenet.perceptual.color import preserve_color
from stylenet.perceptual.loss import build_perceptual_loss
from stylenet.runtime import resolve_device
from stylenet.teacher.gatys import OPTIMIZERS, TERMS, stylize


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
    photo = load_image(content_path, size=int(cfg.size))
    style_size = None if cfg.style_scale is not None else (int(cfg.style.size) if cfg.style.get("size") else None)
    styles = [load_image(p, size=style_size) for p in style_paths]
    init: str | torch.Tensor = str(cfg.init)
    if init not in ("content", "noise"):
        if not is_image_path(init) and not user_path(init).is_file():
            raise StylenetError(f"init={init} is not content, noise or an image file")
        init = load_image(user_path(init))
    out = user_path(cfg.out) if cfg.out else default_out(content_path, style_name)
    if not is_image_path(out):
        raise StylenetError(f"out={out} needs an image extension (.png, .jpg, ...)")
    check_writable_dir(out.parent, "folder of out=")  # before the optimisation, not after it
    device = resolve_device(str(cfg.device))

    loss_cfg = OmegaConf.to_container(cfg.loss, resolve=True)
    if cfg.style.get("style_weight") is not None and not cfg.styles:
        loss_cfg["style_weight"] = float(cfg.style.style_weight)  # a style's own weight, as in training
    loss = build_perceptual_loss(**loss_cfg).to(device)

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
