"""``python -m stylenet quality``: the paper's protocol at several sizes for a set of candidates, one table
(conf/quality.yaml, docs/quality.md).

    python -m stylenet quality photos=DIR
    python -m stylenet quality photos=DIR styles=[wave] sizes=[256,512] \\
        '+candidates.adain={ckpt:checkpoints/universal/last.ckpt,transform:adain}' \\
        '+candidates.peer.outputs=peer/${style}/${size}'

Each (painting, size, candidate) is one evaluation (:func:`stylenet.cli.evaluate.evaluate`) with the reference
network's loss and painting scale; the teacher's curves are cached, so the teacher runs once per photo, painting
and size for all candidates. Everything that would stop the run (a missing checkpoint or folder, an unknown
key) is checked for every cell before the first teacher runs.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from stylenet.cli.entry import hydra_command
from stylenet.cli.evaluate import evaluate
from stylenet.config import CONFIG_DIR, user_path
from stylenet.data.images import atomic_save_image
from stylenet.errors import StylenetError
from stylenet.files import atomic_write_text, check_writable_dir
from stylenet.teacher.evaluate import MAX_SCORING_SIDE
from stylenet.teacher.quality import Cell, frontier_figure, table_csv, table_markdown

CANDIDATE_KEYS = ("ckpt", "style_name", "stroke_scale", "outputs", "transform", "alpha", "palette", "backend")
SHARED_KEYS = ("iterations", "full_curve", "init", "style_scale", "seed", "repeats", "teacher_cache", "device")


def _cell(cfg, style: str, size: int | None):
    """``cfg`` with ``style`` and ``size`` set, for ``${style}`` and ``${size}`` in paths to resolve."""
    return OmegaConf.merge(cfg, {"style": style, "size": size})


def evaluate_base(cfg):
    """conf/evaluate.yaml's keys (without Hydra's) with this run's paths: read here because a Hydra app cannot
    compose a second config inside itself."""
    base = OmegaConf.load(CONFIG_DIR / "evaluate.yaml")
    for k in ("defaults", "hydra"):
        base.pop(k, None)
    base.paths = cfg.paths
    return base


def evaluate_config(base, **keys: Any):
    """A copy of :func:`evaluate_base`'s config with ``keys`` set: one cell's evaluation."""
    ecfg = copy.deepcopy(base)  # cells must not share nested nodes
    for k, v in keys.items():
        OmegaConf.update(ecfg, k, v, merge=False)
    return ecfg


def out_dir(cfg) -> Path:
    return user_path(cfg.out) if cfg.out else user_path(cfg.paths.logs) / "quality"


def plan(cfg) -> list[tuple[str, int, str, Any]]:
    """Every cell's evaluation config, in table order (painting, size, candidate); checked before any work."""
    styles = [str(s) for s in cfg.styles] if not isinstance(cfg.styles, str) else [cfg.styles]
    sizes = [int(s) for s in cfg.sizes] if not isinstance(cfg.sizes, (int, str)) else [int(cfg.sizes)]
    if not cfg.get("candidates"):
        raise StylenetError("give at least one candidate: candidates.NAME.ckpt=PATH (or .outputs=DIR)")
    if not styles or not sizes:
        raise StylenetError("give at least one painting (styles=), one size (sizes=) and one candidate (candidates.NAME.ckpt=...)")
    bad_sizes = [s for s in sizes if not 1 <= s <= MAX_SCORING_SIDE]
    if bad_sizes:
        raise StylenetError(f"sizes={bad_sizes}: every size must be 1..{MAX_SCORING_SIDE} px")
    limits = list(OmegaConf.to_container(cfg.limits, resolve=True)) if cfg.get("limits") else [None] * len(sizes)
    if len(limits) != len(sizes) or any(v is not None and (not isinstance(v, int) or v < 1) for v in limits):
        raise StylenetError(f"limits={limits} must give one number of photos (>= 1, or null for all) per size of sizes={sizes}: pass both, e.g. sizes=[256] limits=[20]")
    photos = OmegaConf.to_container(cfg.photos, resolve=True) if OmegaConf.is_config(cfg.photos) else cfg.photos
    base, out = evaluate_base(cfg), out_dir(cfg)
    loss = OmegaConf.to_container(cfg.loss, resolve=True) if cfg.get("loss") else None
    if not cfg.get("reference") and (loss is None or isinstance(cfg.style_scale, str) or cfg.style_scale is None):
        raise StylenetError("reference=null scores without a trained network: give the loss and the painting's scale, e.g. "
                            "loss=vgg19 style_scale=2 (the quick recipe's), or reference=checkpoints/<painting>/last.ckpt")
    cells = []
    for style in styles:
        reference = user_path(str(_cell(cfg, style, None).reference)) if cfg.get("reference") else None
        if reference is not None and not reference.exists():  # a .ckpt, a light file or a pretrained folder
            raise StylenetError(f"reference={reference} (painting {style}) not found: train it, or set reference= to the "
                                "checkpoint whose loss scores the candidates")
        scoring = {"loss": loss} if loss is not None else {}
        if reference is None:  # the painting's file scores, at style_scale times the photo's size
            painting = user_path(str(_cell(cfg, style, None).painting))
            if not painting.is_file():
                raise StylenetError(f"painting={painting} (painting {style}) not found: set painting= to the paintings' files, "
                                    "e.g. painting=paintings/${style}.jpg")
            scoring["style_image"] = str(painting)
        for size, limit in zip(sizes, limits):
            candidates = OmegaConf.to_container(_cell(cfg, style, size).candidates, resolve=True)
            for name, spec in candidates.items():
                if not isinstance(spec, dict) or not spec:
                    raise StylenetError(f"candidates.{name} must be a mapping such as {{ckpt: PATH}} or {{outputs: DIR}}")
                unknown = sorted(set(spec) - set(CANDIDATE_KEYS))
                if unknown:
                    raise StylenetError(f"candidates.{name}: unknown key(s) {unknown}; use {', '.join(CANDIDATE_KEYS)}")
                keys = dict(spec)
                for k in ("ckpt", "outputs"):
                    if keys.get(k) and not user_path(keys[k]).exists():
                        raise StylenetError(f"candidates.{name}.{k}={keys[k]} (painting {style}, size {size}) does not exist")
                ecfg = evaluate_config(
                    base, **keys, photos=photos, size=size, limit=limit, loss_from=str(reference) if reference else None,
                    loss_style=style,  # a multi-style reference scores each painting with that style's loss
                    **scoring,
                    out=str(out / style / str(size) / name), **{k: cfg[k] for k in SHARED_KEYS},
                )
                cells.append((style, size, name, ecfg))
    return cells


def run(cfg) -> int:
    """The command behind ``python -m stylenet quality``; 1 if any photo of any cell failed."""
    if OmegaConf.is_missing(cfg, "photos") or not cfg.photos:
        raise StylenetError("give the held-out photos: photos=DIR (never the photos the candidates trained on)")
    out = out_dir(cfg)
    check_writable_dir(out, "quality folder (out=)")
    cells_cfg = plan(cfg)
    cells: list[Cell] = []
    failed = 0
    for i, (style, size, name, ecfg) in enumerate(cells_cfg, 1):
        print(f"== [{i}/{len(cells_cfg)}] {style} at {size} px: {name}", flush=True)
        result = evaluate(ecfg)
        failed += len(result.failures)
        init = result.info["inits"][0]
        cells.append(Cell(style, size, name, result.scores, len(result.failures), int(cfg.iterations), init))
        atomic_write_text(table_markdown(cells), out / "quality.md")  # the table grows as cells finish
    atomic_write_text(table_csv(cells), out / "quality.csv")
    for style in dict.fromkeys(c.style for c in cells):
        atomic_save_image(frontier_figure([c for c in cells if c.style == style]), out / f"{style}_frontier.png")
    print(table_markdown(cells))
    print(f"wrote {out}/quality.md, quality.csv and {len({c.style for c in cells})} frontier figure(s)"
          + (f"; {failed} photo(s) failed (see each cell's summary.md)" if failed else ""), file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> None:
    hydra_command("quality", run, argv)


if __name__ == "__main__":
    main()
