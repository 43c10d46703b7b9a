"""``python -m stylenet evaluate``: score a trained network against the Gatys teacher (conf/evaluate.yaml).

    python -m stylenet evaluate ckpt=checkpoints/wave/last.ckpt photos=DIR [iterations=200] [size=256] [out=DIR]

Per photo: the network's loss, the teacher iteration that matches it from each start, the times; then
scores.csv, summary.md, a curve CSV per start and a figure (:mod:`stylenet.teacher.report`).
"""

from __future__ import annotations

import sys
from typing import Any

from omegaconf import OmegaConf

from stylenet.cli.entry import hydra_command
from stylenet.config import user_path
from stylenet.data.images import ImageError, load_image
from stylenet.data.listing import list_photos
from stylenet.errors import StylenetError
from stylenet.files import atomic_save_image, atomic_write_text, check_writable_dir
from stylenet.networks.checkpoint import load_network
from stylenet.runtime import resolve_device
from stylenet.teacher.evaluate import START_NAMES, PhotoScore, format_equiv, score_photo_starts, training_loss, warm_up
from stylenet.teacher.gatys import OPTIMIZERS, TeacherDiverged
from stylenet.teacher.report import curve_csv, scores_csv, side_by_side, summary_markdown


def _loss_overrides(cfg) -> dict[str, Any]:
    node = cfg.get("loss")
    if not node:
        return {}
    present = [k for k in node if not OmegaConf.is_missing(node, k)]  # a loss group may leave a key ??? (weights)
    return {k: _plain(node[k]) for k in present}


def _plain(v: Any) -> Any:
    return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v


def run(cfg) -> int:
    """The command behind ``python -m stylenet evaluate``; returns the exit code (1 if any photo failed)."""
    # ---- everything that can stop the whole run is checked before any photo is touched ----
    if OmegaConf.is_missing(cfg, "ckpt") or not cfg.ckpt:
        raise StylenetError("give the network: python -m stylenet evaluate ckpt=path/to/last.ckpt photos=DIR")
    if OmegaConf.is_missing(cfg, "photos") or not cfg.photos:
        raise StylenetError("give the photos: photos=DIR (or a file, or [a.jpg,b.jpg])")
    if cfg.optimizer not in OPTIMIZERS:
        raise StylenetError(f"optimizer={cfg.optimizer} is not one of {', '.join(OPTIMIZERS)}")
    inits = [cfg.init] if isinstance(cfg.init, str) else list(cfg.init)
    if not inits or any(i not in START_NAMES for i in inits):
        raise StylenetError(f"init={cfg.init} must be noise, content or a list of them, e.g. [noise,content]")
    iterations = int(cfg.iterations)
    if iterations < 0:
        raise StylenetError(f"iterations must be >= 0, got {iterations}")
    for key in ("size", "repeats", "limit", "style_size"):  # null means "the default"; 0 used to mean it silently
        if cfg.get(key) is not None and int(cfg[key]) < 1:
            raise StylenetError(f"{key}={cfg[key]} must be at least 1 (or null for the default)")
    ckpt = user_path(cfg.ckpt)
    net, meta = load_network(ckpt)
    style_meta = meta.get("style") or {}
    size = int(cfg.size or (meta.get("train") or {}).get("image_size") or 256)
    photos = OmegaConf.to_container(cfg.photos, resolve=True) if OmegaConf.is_config(cfg.photos) else cfg.photos
    paths = list_photos(photos)
    if cfg.limit:
        paths = paths[: int(cfg.limit)]
    device = resolve_device(str(cfg.device))
    loss, style, loss_cfg, style_path = training_loss(meta, device, cfg.style_image, cfg.style_size, _loss_overrides(cfg))
    net = net.to(device)
    out_dir = user_path(cfg.out) if cfg.out else user_path(cfg.paths.logs) / "eval" / f"{ckpt.parent.name}_{ckpt.stem}"
    check_writable_dir(out_dir, "evaluation folder (out=)")  # before the teacher runs, not after
    warm_up(net, loss, device)

    scores: list[list[PhotoScore]] = []
    failures: list[tuple[str, str]] = []
    for i, path in enumerate(paths, 1):
        try:
            photo = load_image(path, size=size).to(device)
            photo_scores, net_img, teacher_imgs = score_photo_starts(
                net, loss, photo, path.name, inits=inits, iterations=iterations, optimizer=str(cfg.optimizer),
                lr=None if cfg.lr is None else float(cfg.lr), seed=cfg.seed, repeats=int(cfg.repeats),
                full_curve=bool(cfg.full_curve), progress=bool(cfg.progress),
            )
        except (ImageError, TeacherDiverged, StylenetError) as e:
            failures.append((path.name, str(e)))
            print(f"[{i}/{len(paths)}] {path.name}: FAILED: {e}", file=sys.stderr)
            continue
        scores.append(photo_scores)
        for sc in photo_scores:
            atomic_write_text(curve_csv(sc.history), out_dir / f"{path.stem}_{sc.init}.csv")
        first = photo_scores[0]
        figure = side_by_side(
            [photo, net_img, *teacher_imgs, style],
            ["photo", f"network {first.net_seconds * 1000:.0f} ms",
             *(f"teacher from {sc.init}, it {format_equiv(sc.equiv, iterations)}" for sc in photo_scores), "style"],
            height=max(256, photo.shape[-2]),  # room for the captions under small photos
        )
        atomic_save_image(figure, out_dir / f"{path.stem}.png")
        reached = ", ".join(f"from {START_NAMES.get(sc.init, sc.init)} after {format_equiv(sc.equiv, iterations)} iterations "
                            f"({'> ' if sc.equiv is None else ''}{sc.speed_ratio:.3g}x)" for sc in photo_scores)
        print(
            f"[{i}/{len(paths)}] {path.name}: network loss {first.net_terms['total']:.4g} (style {first.style_vs_photo:.2f} of "
            f"the photo's) = teacher {reached}",
            flush=True,
        )
    info = {
        "ckpt": str(ckpt), "style": style_meta.get("name", style_path.stem), "global_step": (meta.get("train") or {}).get("global_step"),
        "size": size, "device": str(device), "optimizer": str(cfg.optimizer), "iterations": iterations, "loss": loss_cfg,
        "inits": list(inits), "seed": cfg.seed,
    }
    atomic_write_text(scores_csv(scores), out_dir / "scores.csv")
    atomic_write_text(summary_markdown(scores, failures, info), out_dir / "summary.md")
    print(f"wrote {out_dir}/summary.md ({len(scores)} scored, {len(failures)} failed)")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> None:
    hydra_command("evaluate", run, argv)


if __name__ == "__main__":
    main()
