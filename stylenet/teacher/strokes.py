"""Which working size each style of a network paints best at: its ``stroke_side``, which ``--stroke-scale auto`` (the
default) reads (:mod:`stylenet.inference.stroke_scale`).

A Johnson network paints strokes of a fixed size in pixels. Painted at a working long side ``w`` and brought back to
the photo's size, its strokes cover a fixed fraction of the photo whatever the photo's size, and so does the
painting's when it is scored at the training run's scale relative to the photo (the protocol's
``style_scale=train``, docs/quality.md). So one number per style says where its strokes match the painting's: the
``w`` whose output has the lowest training loss (content + style + TV, the network's own objective and what the
teacher-equivalent score compares), measured here on photos at :data:`CALIBRATION_SIZE` for each of
:data:`SIDES`. Udnie's large flat planes and the Scream's bands want a small ``w`` (big strokes), the wave's crests
a larger one (docs/inference.md, 2026-12-07). The loss is the judge within :data:`SIDES`; the eye set their floor.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from stylenet.config import user_path
from stylenet.data.images import ImageError, load_image
from stylenet.data.listing import list_images
from stylenet.errors import StylenetError, first_line
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.meta import MIN_STROKE_SIDE
from stylenet.teacher.evaluate import painting_scale, training_loss

# Working long sides tried, largest (S = 1 at 1024) first. None under 256: the loss kept falling down to 128 px for
# Udnie, but a 3000 px photo painted from a 128x85 working image was a pastel smear with the rocket's edges pasted
# back, while 256 px still read as Udnie's planes with the gantries standing (docs/inference.md, 2026-12-07).
SIDES = (1024, 768, 512, 384, 256)
CALIBRATION_SIZE = 1024  # the photos' long side: big enough for every side above to be a real downscale
DEFAULT_PAINTING_SCALE = 2.0  # the painting per photo pixel when a checkpoint does not say (the quick recipe's)


@dataclass(frozen=True)
class SideScore:
    """One working side's medians over the photos."""

    side: int
    total: float  # the training loss (what the side is chosen by)
    style_ratio: float  # the style loss over the photo's own (0 = all the way to the painting)
    content: float


def measure_style(stylizer: Stylizer, meta: dict[str, Any], entry: dict[str, Any], photos: Sequence[torch.Tensor],
                  sides: Sequence[int] = SIDES, ratio: float = DEFAULT_PAINTING_SCALE) -> list[SideScore]:
    """The scores of one style (``entry``: the checkpoint's style dict, its ``image`` the painting) at each of
    ``sides`` on ``photos`` (1×3×H×W in [0, 1]), the painting at ``ratio`` times the photo's long side. The stylizer
    must already paint that style."""
    losses: dict[int, Any] = {}  # one painting's Gram targets per photo size
    rows: dict[int, list[tuple[float, float, float]]] = {s: [] for s in sides}
    for photo in photos:
        long = max(photo.shape[-2:])
        if long not in losses:
            losses[long] = training_loss(meta, stylizer.device, style_image=entry.get("image"),
                                         style_size=round(ratio * long))[0]
        loss = losses[long]
        photo = photo.to(stylizer.device)
        with torch.no_grad():
            own = float(loss(photo, photo)["style"])
            for side in sides:
                out = stylizer.stylize_tensor(photo, stroke_scale=long / min(side, long))
                terms = loss(out, photo)
                rows[side].append((float(terms["total"]), float(terms["style"]) / own if own > 0 else float("nan"),
                                   float(terms["content"])))
    return [SideScore(s, *(statistics.median(r[k] for r in rows[s]) for k in range(3))) for s in sides]


def best_side(scores: Sequence[SideScore]) -> int:
    """The side with the lowest training loss (the largest of equals: less resampling)."""
    return min(scores, key=lambda s: (s.total, -s.side)).side


def measure_stroke_sides(stylizer: Stylizer, photos: Sequence[torch.Tensor], sides: Sequence[int] = SIDES,
                         say: Callable[[str], None] = lambda msg: None,
                         styles: Sequence[str] | None = None) -> dict[str, list[SideScore]]:
    """Every style of ``stylizer``'s network (or those named in ``styles``) scored at ``sides``: ``{style name:
    scores}``. Their painting files must be readable (the checkpoint names them, relative to the repository for the
    shipped ones)."""
    if not photos:
        raise StylenetError("measuring stroke sides needs photos; give a folder of them")
    bad = [s for s in sides if not MIN_STROKE_SIDE <= int(s)]
    if bad or not sides:
        raise StylenetError(f"stroke sides must be whole numbers from {MIN_STROKE_SIDE} px, got {list(sides)}")
    meta = stylizer.meta
    entries = meta.get("styles") or [meta.get("style") or {}]
    ratio = painting_scale({**meta, "style": entries[0]}, "train") or DEFAULT_PAINTING_SCALE
    if styles:
        unknown = sorted(set(styles) - {e.get("name") for e in entries})
        if unknown:
            raise StylenetError(f"styles {unknown} are not in this network; it holds {', '.join(str(e.get('name')) for e in entries)}")
        entries = [e for e in entries if e.get("name") in styles]
    before = stylizer.style
    out: dict[str, list[SideScore]] = {}
    for entry in entries:  # every painting checked before minutes of work
        image = entry.get("image")
        if not image or not user_path(image).is_file():
            raise StylenetError(f"style {entry.get('name')}: its painting ({image or 'not recorded'}) is not here, and the stroke "
                                "side is measured against it; run from the folder the checkpoint's painting paths start from")
    try:
        for entry in entries:
            if meta.get("styles"):
                stylizer.set_style(entry["name"])
            out[entry["name"]] = measure_style(stylizer, meta, entry, photos, sides, ratio)
            say(f"{entry['name']}: {best_side(out[entry['name']])} px")
    finally:
        if meta.get("styles") and before is not None:
            stylizer.set_style(before)
    return out


def load_photos(folder: str | os.PathLike, size: int = CALIBRATION_SIZE, limit: int | None = None,
                say: Callable[[str], None] = lambda msg: None) -> list[torch.Tensor]:
    """The images under ``folder`` (sorted; the first ``limit``) at long side ``size``; one that cannot be read is
    skipped and said."""
    files, _ = list_images(folder)
    photos = []
    for f in files[:limit]:
        try:
            photos.append(load_image(f, size=size))
        except ImageError as e:
            say(f"skipped {f}: {first_line(e)}")
    if not photos:
        raise StylenetError(f"no readable photos under {folder}; give a folder of photos (not the ones you score with)")
    return photos


def calibrate(path: str | os.PathLike, photos: str | os.PathLike, *, size: int = CALIBRATION_SIZE,
              sides: Sequence[int] = SIDES, limit: int | None = None, device: str = "auto",
              say: Callable[[str], None] = lambda msg: None) -> tuple[dict[str, int], dict[str, list[SideScore]]]:
    """Measure the network at ``path`` (a checkpoint or pretrained folder) on the photos under ``photos``:
    ``({style: best side}, {style: scores})``, ready for :func:`with_stroke_sides`."""
    stylizer = Stylizer.from_checkpoint(path, device=device, half=False, backend="torch")
    scores = measure_stroke_sides(stylizer, load_photos(photos, size, limit, say), sides, say)
    return {name: best_side(rows) for name, rows in scores.items()}, scores


def with_stroke_sides(meta: dict[str, Any], sides: dict[str, int]) -> dict[str, Any]:
    """A copy of ``meta`` with each style's ``stroke_side`` recorded (every style of the network must be given)."""
    meta = dict(meta)
    if meta.get("styles"):
        missing = [s["name"] for s in meta["styles"] if s["name"] not in sides]
        if missing:
            raise StylenetError(f"no stroke side for {', '.join(missing)}")
        meta["styles"] = [{**s, "stroke_side": int(sides[s["name"]])} for s in meta["styles"]]
    else:
        name = (meta.get("style") or {}).get("name")
        if name not in sides:
            raise StylenetError(f"no stroke side for {name}")
        meta["style"] = {**meta["style"], "stroke_side": int(sides[name])}
    return meta


def format_table(scores: dict[str, list[SideScore]]) -> str:
    """One markdown table: a row per style and side, the chosen side in bold."""
    lines = ["| style | working side | training loss | style vs photo | content |", "|---|---|---|---|---|"]
    for name, rows in scores.items():
        best = best_side(rows)
        for r in rows:
            mark = "**" if r.side == best else ""
            lines.append(f"| {name} | {mark}{r.side}{mark} | {r.total:.3g} | {r.style_ratio:.3g} | {r.content:.3g} |")
    return "\n".join(lines)
