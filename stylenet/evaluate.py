"""Score a trained network against the Gatys teacher, the way Johnson et al. (2016, §4.1, Fig. 5/Tab. 1)
did: "our network reaches the loss that L-BFGS reaches after N iterations, ~1000× faster".

For every photo:

1. the network stylises it; its loss terms are computed with the *training* loss (the PerceptualLoss
   rebuilt from the checkpoint's meta, the style image and size it was trained with), on its raw output
   as in training;
2. the teacher (:func:`stylenet.gatys.stylise`, same loss object) optimises pixels for up to K
   iterations from each start in ``init``: from seeded noise first (the paper's protocol: Johnson et al.
   ran jcjohnson/neural-style, whose default start is noise), then from the photo itself;
3. teacher-equivalent iterations = the first iteration whose total loss is ≤ the network's
   (``> K`` when none is); speed ratio = teacher time to that iteration / network forward time.

Teacher-equivalence alone cannot tell a network that barely stylises (a still-noisy teacher image
matches its loss early, and from the photo the teacher starts with zero content loss), so each photo
also reports the network's content loss and its style loss relative to the photo's own: how much of
the photo-to-painting gap the network closes.

Command (conf/evaluate.yaml, docs/gatys.md)::

    python -m stylenet.evaluate ckpt=checkpoints/wave/last.ckpt photos=DIR [iterations=200] [size=256] [out=DIR]

Writes ``<out>/<photo>_<start>.csv`` (the teacher's curve from each start: iteration, time, content,
style, tv, total), ``<out>/<photo>.png`` (photo | network | teacher at the equivalent iteration, per
start | style), ``<out>/scores.csv`` (one row per photo) and ``<out>/summary.md`` (median and spread).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from stylenet.errors import StylenetError
from stylenet.gatys import TERMS, TeacherDiverged, stylise, synchronize
from stylenet.loss import PerceptualLoss
from stylenet.transformer_net import run_any_size

CURVE_COLUMNS = ("iteration", "time", "content", "style", "tv", "total")


def teacher_equivalent(totals: Sequence[float], target: float) -> int | None:
    """Index of the first loss in ``totals`` (the teacher's total loss after 0, 1, 2, ... iterations)
    that is ≤ ``target`` (the network's total loss), or None when the curve never gets there."""
    for i, v in enumerate(totals):
        if v <= target:
            return i
    return None


def format_equiv(equiv: int | None, iterations: int) -> str:
    return f"> {iterations}" if equiv is None else str(equiv)


@dataclass
class PhotoScore:
    name: str
    net_terms: dict[str, float]
    net_seconds: float
    iterations: int  # K, the teacher's budget
    equiv: int | None  # teacher-equivalent iterations; None = not reached within K
    teacher_seconds: float  # teacher time to `equiv` (to K when not reached)
    history: list[dict[str, float]] = field(default_factory=list, repr=False)
    init: str = "content"  # the teacher's start
    photo_style: float = math.nan  # the photo's own (weighted) style loss: the gap to the painting

    @property
    def style_vs_photo(self) -> float:
        """The network's style loss / the photo's: 1 = no closer to the painting than the photo, 0 = all the way."""
        return self.net_terms["style"] / self.photo_style if self.photo_style > 0 else math.nan

    @property
    def speed_ratio(self) -> float:
        """Teacher time to the network's loss / network time (a lower bound when not reached)."""
        return self.teacher_seconds / self.net_seconds if self.net_seconds > 0 else math.inf


START_NAMES = {"noise": "noise", "content": "the photo"}


def photo_row(scores: Sequence[PhotoScore]) -> dict[str, Any]:
    """One photo's CSV row: the network's terms once, then the teacher's figures for each start."""
    first = scores[0]
    row: dict[str, Any] = {
        "photo": first.name,
        **{f"net_{k}": first.net_terms[k] for k in TERMS},
        "photo_style": first.photo_style,
        "style_vs_photo": first.style_vs_photo,
        "net_seconds": first.net_seconds,
    }
    for sc in scores:
        row |= {
            f"equiv_iters_from_{sc.init}": format_equiv(sc.equiv, sc.iterations),
            f"teacher_seconds_from_{sc.init}": sc.teacher_seconds,
            f"speed_ratio_from_{sc.init}": ("> " if sc.equiv is None else "") + f"{sc.speed_ratio:.4g}",
            f"teacher_final_total_from_{sc.init}": sc.history[-1]["total"] if sc.history else math.nan,
        }
    return row


@torch.no_grad()
def time_network(net: torch.nn.Module, photo: torch.Tensor, repeats: int = 3) -> tuple[torch.Tensor, float]:
    """The network's raw output for ``photo`` and its forward time (median of ``repeats`` runs after one
    warm-up run, so one-off allocation/cuDNN autotuning is not billed; CUDA synchronised)."""
    device = photo.device
    out = run_any_size(net, photo)  # warm-up
    synchronize(device)
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = run_any_size(net, photo)
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def warm_up(net: torch.nn.Module, loss: PerceptualLoss, device: torch.device) -> None:
    """Run both sides once on a small image before anything is timed: the first optimiser step pays
    one-off costs (lazy imports inside torch.optim, allocator and cuDNN set-up) that would otherwise be
    billed to the first photo's teacher."""
    x = torch.rand(1, 3, 32, 32, device=device)
    with torch.no_grad():
        run_any_size(net, x)
    stylise(loss, x, iterations=2)


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
) -> tuple[list[PhotoScore], torch.Tensor, list[torch.Tensor]]:
    """Score one photo (1×3×H×W in [0, 1], on the loss's device; style already set on ``loss``) against
    the teacher started from each of ``inits`` ("noise", seeded by ``seed``, or "content", the photo).

    The network runs (and is timed) once. Returns one score per start, the network's output (clamped)
    and, per start, the teacher's image at the equivalent iteration (its last image when not reached).
    ``full_curve=False`` stops each teacher as soon as it reaches the network's loss (cheaper, same score).
    """
    if not loss.has_style:
        raise ValueError("loss.set_style(...) must be called before scoring")
    net_out, net_seconds = time_network(net, photo, repeats)
    with torch.no_grad():
        net_terms = {k: float(v) for k, v in loss(net_out, photo).items()}
        photo_style = float(loss(photo, photo)["style"])
    if not math.isfinite(net_terms["total"]):
        raise StylenetError(f"{name}: the network's loss is not finite ({net_terms['total']}); the checkpoint is broken")
    scores, images = [], []
    for init in inits:
        kept: dict[str, torch.Tensor] = {}

        def keep(row: dict[str, float], image: torch.Tensor) -> None:
            # The image at the first iteration reaching the network's loss, for the side-by-side figure.
            if "equiv" not in kept and row["total"] <= net_terms["total"]:
                kept["equiv"] = image.clamp(0, 1)

        result = stylise(
            loss, photo, iterations=iterations, optimizer=optimizer, lr=lr, init=init, seed=seed,
            stop_below=None if full_curve else net_terms["total"], on_iteration=keep, progress=progress,
        )
        equiv = teacher_equivalent([r["total"] for r in result.history], net_terms["total"])
        teacher_seconds = result.history[equiv]["time"] if equiv is not None else result.history[-1]["time"]
        scores.append(PhotoScore(name, net_terms, net_seconds, iterations, equiv, teacher_seconds, result.history, str(init), photo_style))
        images.append(kept.get("equiv", result.image))
    return scores, net_out.clamp(0, 1), images


# ---- reports --------------------------------------------------------------------------------------
def curve_csv(history: Sequence[dict[str, float]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CURVE_COLUMNS)
    for r in history:
        w.writerow([int(r["iteration"]), f"{r['time']:.6f}", *(f"{r[k]:.8g}" for k in TERMS)])
    return buf.getvalue()


def scores_csv(photos: Sequence[Sequence[PhotoScore]]) -> str:
    """One row per photo; ``photos`` holds each photo's scores, one per teacher start."""
    buf = io.StringIO()
    if photos:
        w = csv.DictWriter(buf, fieldnames=list(photo_row(photos[0])), lineterminator="\n")
        w.writeheader()
        for scores in photos:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in photo_row(scores).items()})
    return buf.getvalue()


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def spread(values: Sequence[float], iterations: int | None = None) -> dict[str, str]:
    """Median, quartiles and range as text; with ``iterations``, values > K (never reached) print "> K"."""

    def fmt(v: float) -> str:
        if iterations is not None and v > iterations:
            return f"> {iterations}"
        if not math.isfinite(v):
            return "inf"
        return f"{v:g}" if iterations is not None else f"{v:.4g}"

    vals = sorted(values)
    q1, q3 = _quartiles(vals)
    return {"median": fmt(statistics.median(vals)), "q1": fmt(q1), "q3": fmt(q3), "min": fmt(vals[0]), "max": fmt(vals[-1])}


def summary_markdown(photos: Sequence[Sequence[PhotoScore]], failures: Sequence[tuple[str, str]], info: dict[str, Any]) -> str:
    """``photos`` holds each photo's scores, one per teacher start, in the order of ``info["inits"]``."""
    k = info["iterations"]
    starts = " and ".join(
        f"from {START_NAMES.get(i, i)}" + (f" (seed {info['seed']})" if i == "noise" else "") for i in info["inits"]
    )
    lines = [
        "# Teacher score",
        "",
        f"Checkpoint `{info['ckpt']}` (style `{info['style']}`, trained {info['global_step']} steps), "
        f"{len(photos)} photo(s) scored, {len(failures)} failed; photos at long side {info['size']} px on {info['device']}.",
        f"Teacher: {info['optimizer']} {starts}, up to K = {k} iterations, same loss as training "
        f"({info['loss'].get('network', 'vgg16')}, content {info['loss']['content_weight']:g}, style {info['loss']['style_weight']:g}, "
        f"tv {info['loss']['tv_weight']:g}, VGG weights `{info['loss']['weights']}`).",
        "Teacher-equivalent iterations: first teacher iteration whose total loss ≤ the network's. "
        "Speed ratio: teacher time to that iteration / network forward time (a lower bound, `>`, when not reached). "
        "Style vs photo: the network's style loss / the photo's own (1 = no nearer the painting than the photo; "
        "the gap closed is 1 minus it).",
        "",
    ]
    if photos:
        lines += ["| across photos | median | quartiles | range |", "|---|---|---|---|"]
        for j, init in enumerate(info["inits"]):
            col = [p[j] for p in photos]
            e = spread([float(s.equiv) if s.equiv is not None else float(k + 1) for s in col], k)
            r = spread([s.speed_ratio for s in col])
            reached = sum(s.equiv is not None for s in col)
            where = START_NAMES.get(init, init)
            lines += [
                f"| teacher-equivalent iterations from {where} ({reached}/{len(col)} reached) | {e['median']} | {e['q1']} – {e['q3']} | {e['min']} – {e['max']} |",
                f"| speed ratio (×) from {where} | {r['median']} | {r['q1']} – {r['q3']} | {r['min']} – {r['max']} |",
            ]
        first = [p[0] for p in photos]
        for label, values in (
            ("network style loss / photo's own", [s.style_vs_photo for s in first]),
            ("network content loss", [s.net_terms["content"] for s in first]),
            ("network total loss", [s.net_terms["total"] for s in first]),
            ("network time (s)", [s.net_seconds for s in first]),
        ):
            v = spread(values)
            lines.append(f"| {label} | {v['median']} | {v['q1']} – {v['q3']} | {v['min']} – {v['max']} |")
        heads = " | ".join(f"iters from {START_NAMES.get(i, i)}" for i in info["inits"])
        lines += [
            "",
            f"| photo | net content | net style | style vs photo | net tv | net total | {heads} | net s |",
            "|---|---|---|---|---|---|" + "---|" * len(info["inits"]) + "---|",
        ]
        for p in photos:
            t = p[0].net_terms
            iters = " | ".join(format_equiv(s.equiv, k) for s in p)
            lines.append(
                f"| {p[0].name} | {t['content']:.4g} | {t['style']:.4g} | {p[0].style_vs_photo:.3g} | {t['tv']:.4g} | "
                f"{t['total']:.4g} | {iters} | {p[0].net_seconds:.3g} |"
            )
    if failures:
        lines += ["", "## Failed", ""] + [f"- `{name}`: {msg}" for name, msg in failures]
    return "\n".join(lines) + "\n"


def side_by_side(panels: Sequence[torch.Tensor], labels: Sequence[str], height: int | None = None):
    """Panels (1×3×H×W in [0, 1]) resized to one height, side by side, each captioned below."""
    from PIL import Image, ImageDraw

    from stylenet.images import tensor_to_pil

    imgs = [tensor_to_pil(p.detach().cpu()) for p in panels]
    h = height or imgs[0].height
    imgs = [im.resize((max(1, round(im.width * h / im.height)), h), Image.Resampling.LANCZOS) for im in imgs]
    caption, gap = 16, 4
    canvas = Image.new("RGB", (sum(im.width for im in imgs) + gap * (len(imgs) - 1), h + caption), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for im, label in zip(imgs, labels):
        canvas.paste(im, (x, 0))
        draw.text((x + 2, h + 2), label, fill="black")
        x += im.width + gap
    return canvas


# ---- command --------------------------------------------------------------------------------------
def list_photos(photos: Any) -> list[Path]:
    """``photos=``: a folder (its image files, sorted, not recursive), one file, or a list of files."""
    from stylenet.gatys import user_path
    from stylenet.images import is_image_path

    entries = [photos] if isinstance(photos, (str, Path)) else list(photos)
    out: list[Path] = []
    for e in entries:
        p = user_path(e)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.is_file() and is_image_path(q))
        elif p.exists():
            out.append(p)
        else:
            raise StylenetError(f"photos: {p} does not exist; give a folder of photos or image files")
    if not out:
        raise StylenetError(f"photos: no image files ({', '.join(map(str, entries))}); give a folder of photos or image files")
    return out


def effective_loss_config(meta_loss: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's training loss, with the non-null keys of ``overrides`` (evaluate's ``loss.*``)."""
    cfg = dict(meta_loss)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def _loss_overrides(cfg) -> dict[str, Any]:
    from omegaconf import OmegaConf

    node = cfg.get("loss")
    if not node:
        return {}
    present = [k for k in node if not OmegaConf.is_missing(node, k)]  # a loss group may leave a key ??? (weights)
    return {k: _plain(node[k]) for k in present}


def _plain(v: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v


def run(cfg) -> int:
    """The command behind ``python -m stylenet.evaluate``; returns the exit code (1 if any photo failed)."""
    from omegaconf import OmegaConf

    from stylenet.checkpoint import CheckpointError, load_network
    from stylenet.files import atomic_save_image, atomic_write_text
    from stylenet.gatys import OPTIMIZERS, resolve_device, user_path
    from stylenet.images import ImageError, load_image
    from stylenet.loss import build_perceptual_loss
    from stylenet.vgg import VGGWeightsError

    # ---- everything that can stop the whole run is checked before any photo is touched ----
    if OmegaConf.is_missing(cfg, "ckpt") or not cfg.ckpt:
        raise StylenetError("give the network: python -m stylenet.evaluate ckpt=path/to/last.ckpt photos=DIR")
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
    ckpt = user_path(cfg.ckpt)
    try:
        net, meta = load_network(ckpt)
    except CheckpointError as e:
        raise StylenetError(str(e)) from None
    style_meta = meta.get("style") or {}
    style_path = user_path(cfg.style_image or style_meta.get("image") or "")
    if not style_path.is_file():
        raise StylenetError(f"style image {style_path} (from the checkpoint) not found; pass style_image=PATH")
    style_size = int(cfg.style_size or style_meta.get("size") or 0) or None
    size = int(cfg.size or (meta.get("train") or {}).get("image_size") or 256)
    photos = OmegaConf.to_container(cfg.photos, resolve=True) if OmegaConf.is_config(cfg.photos) else cfg.photos
    paths = list_photos(photos)
    if cfg.limit:
        paths = paths[: int(cfg.limit)]
    device = resolve_device(str(cfg.device))
    loss_cfg = effective_loss_config(meta.get("loss") or {}, _loss_overrides(cfg))
    try:
        style = load_image(style_path, size=style_size)
    except ImageError as e:
        raise StylenetError(str(e)) from None
    try:
        loss = build_perceptual_loss(**loss_cfg).to(device)
    except VGGWeightsError as e:
        raise StylenetError(str(e)) from None
    except TypeError as e:
        raise StylenetError(f"the checkpoint's loss config {sorted(loss_cfg)} does not fit this stylenet ({e})") from None
    loss.set_style(style.to(device))
    net = net.to(device)
    out_dir = user_path(cfg.out) if cfg.out else user_path(cfg.paths.logs) / "eval" / f"{ckpt.parent.name}_{ckpt.stem}"
    out_dir.mkdir(parents=True, exist_ok=True)
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


def main() -> None:
    import hydra
    from omegaconf import DictConfig

    import stylenet.config  # noqa: F401  (registers the ${stylenet_root:} resolver before Hydra composes)
    from stylenet.config import CONFIG_DIR

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="evaluate")
    def _main(cfg: DictConfig) -> None:
        try:
            code = run(cfg)
        except StylenetError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)
        sys.exit(code)

    _main()


if __name__ == "__main__":
    main()
