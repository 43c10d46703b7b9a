"""The quality table: candidates × paintings × sizes, scored by the paper's protocol (:mod:`stylenet.teacher.evaluate`),
as one markdown table, one CSV and one figure per painting (style against content: who is ahead on both).

Each cell is one evaluation: medians (and ranges) over the photos of teacher-equivalent iterations from the
first start, the style loss, style vs photo at the photo's scale and 2× and 4× coarser, the gap closed and the
content loss. A candidate is *ahead on both* at a size when no other candidate has a lower-or-equal median
style-vs-photo and content loss with one of them strictly lower (the Pareto front), marked ★.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from stylenet.teacher.scores import COARSE_FACTORS, START_NAMES, PhotoScore, format_equiv


@dataclass
class Cell:
    """One candidate on one painting at one size: each photo's scores (first start first) and the failures."""

    style: str
    size: int
    candidate: str
    photos: Sequence[Sequence[PhotoScore]]
    failed: int
    iterations: int
    init: str

    def _median(self, values: Sequence[float]) -> float:
        vals = [v for v in values if not math.isnan(v)]
        return statistics.median(vals) if vals else math.nan

    @property
    def first(self) -> list[PhotoScore]:
        return [p[0] for p in self.photos]

    @property
    def equivs(self) -> list[float]:
        return [float(s.equiv) if s.equiv is not None else float(self.iterations + 1) for s in self.first]

    def figures(self) -> dict[str, float]:
        f = self.first
        out = {
            "equiv_median": statistics.median(self.equivs) if f else math.nan,
            "equiv_min": min(self.equivs) if f else math.nan,
            "equiv_max": max(self.equivs) if f else math.nan,
            "style": self._median([s.net_terms["style"] for s in f]),
            "style_vs_photo": self._median([s.style_vs_photo for s in f]),
            "style_vs_photo_min": min((s.style_vs_photo for s in f), default=math.nan),
            "style_vs_photo_max": max((s.style_vs_photo for s in f), default=math.nan),
            "content": self._median([s.net_terms["content"] for s in f]),
            "content_min": min((s.net_terms["content"] for s in f), default=math.nan),
            "content_max": max((s.net_terms["content"] for s in f), default=math.nan),
            **{f"style_vs_photo_{k}x_coarser": self._median([s.coarse.get(k, math.nan) for s in f]) for k in COARSE_FACTORS},
        }
        out["gap_closed"] = 1 - out["style_vs_photo"]
        return out


def ahead_on_both(cells: Sequence[Cell]) -> set[str]:
    """Names of the candidates no other beats on both style vs photo and content (medians), among ``cells``
    (one painting, one size)."""
    pts = {c.candidate: (c.figures()["style_vs_photo"], c.figures()["content"]) for c in cells if c.photos}
    front = set()
    for name, (s, c) in pts.items():
        if not any((s2 <= s and c2 <= c) and (s2 < s or c2 < c) for other, (s2, c2) in pts.items() if other != name):
            front.add(name)
    return front


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(v) else f"{v:.{digits}g}"


def _equiv(v: float, k: int) -> str:
    return format_equiv(None if v > k else int(v) if v == int(v) else v, k)


def table_markdown(cells: Sequence[Cell]) -> str:
    """The table: one row per painting, size and candidate, in the order given."""
    if not cells:
        return "No candidate was scored.\n"
    k, init = cells[0].iterations, cells[0].init
    lines = [
        f"| painting | size | candidate | photos | teacher-equiv. iterations from {START_NAMES.get(init, init)}: median (range) | "
        "style loss | style vs photo: median (range) | gap closed | content: median (range) | style vs photo ½ | style vs photo ¼ |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, int], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.style, c.size), []).append(c)
    for (style, size), group in groups.items():
        front = ahead_on_both(group)
        for c in group:
            f = c.figures()
            star = " ★" if c.candidate in front and len(group) > 1 else ""
            n = f"{len(c.photos)}" + (f" ({c.failed} failed)" if c.failed else "")
            if not c.photos:
                lines.append(f"| {style} | {size} | {c.candidate} | {n} | | | | | | | |")
                continue
            lines.append(
                f"| {style} | {size} | {c.candidate}{star} | {n} | {_equiv(f['equiv_median'], k)} ({_equiv(f['equiv_min'], k)} – "
                f"{_equiv(f['equiv_max'], k)}) | {_fmt(f['style'])} | {_fmt(f['style_vs_photo'])} ({_fmt(f['style_vs_photo_min'])} – "
                f"{_fmt(f['style_vs_photo_max'])}) | {_fmt(f['gap_closed'], 2)} | {_fmt(f['content'])} ({_fmt(f['content_min'])} – "
                f"{_fmt(f['content_max'])}) | {_fmt(f['style_vs_photo_2x_coarser'])} | {_fmt(f['style_vs_photo_4x_coarser'])} |"
            )
    return "\n".join(lines) + "\n"


FIELDS = ["equiv_median", "equiv_min", "equiv_max", "style", "style_vs_photo", "style_vs_photo_min", "style_vs_photo_max",
          "content", "content_min", "content_max", *(f"style_vs_photo_{k}x_coarser" for k in COARSE_FACTORS), "gap_closed"]


def table_csv(cells: Sequence[Cell]) -> str:
    buf = io.StringIO()
    w = None
    for c in cells:
        row = {"painting": c.style, "size": c.size, "candidate": c.candidate, "photos": len(c.photos), "failed": c.failed,
               **({k: f"{v:.6g}" for k, v in c.figures().items()} if c.photos else {})}
        if w is None:
            w = csv.DictWriter(buf, fieldnames=["painting", "size", "candidate", "photos", "failed", *FIELDS],
                               lineterminator="\n", restval="")
            w.writeheader()
        w.writerow(row)
    return buf.getvalue()


PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75), (227, 119, 194),
           (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def frontier_figure(cells: Sequence[Cell], panel: int = 320) -> Image.Image:
    """One painting's candidates, one panel per size: median content loss (x) against median style vs photo (y),
    each candidate a colour, the range over photos as whiskers; lower left is ahead on both."""
    sizes = sorted({c.size for c in cells})
    names = list(dict.fromkeys(c.candidate for c in cells))
    colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    margin, legend = 44, 18 * len(names) + 10
    img = Image.new("RGB", (panel * len(sizes), panel + legend), "white")
    draw = ImageDraw.Draw(img)
    for j, size in enumerate(sizes):
        group = [c for c in cells if c.size == size and c.photos]
        x0, y0, w, h = j * panel + margin, 20, panel - margin - 12, panel - margin - 20
        draw.rectangle([x0, y0, x0 + w, y0 + h], outline=(0, 0, 0))
        draw.text((x0, 4), f"{cells[0].style} at {size} px", fill=(0, 0, 0))
        if not group:
            continue
        figs = {c.candidate: c.figures() for c in group}
        xs = [v for f in figs.values() for v in (f["content_min"], f["content_max"]) if not math.isnan(v)]
        ys = [v for f in figs.values() for v in (f["style_vs_photo_min"], f["style_vs_photo_max"]) if not math.isnan(v)]
        if not xs or not ys:
            continue
        xlo, xhi = 0.0, max(xs) * 1.08 or 1.0
        ylo, yhi = 0.0, max(max(ys) * 1.08, 1e-6)

        def at(x: float, y: float) -> tuple[float, float]:
            return x0 + (x - xlo) / (xhi - xlo) * w, y0 + h - (y - ylo) / (yhi - ylo) * h

        for t in range(5):  # ticks: content along x, style vs photo along y
            xv, yv = xlo + (xhi - xlo) * t / 4, ylo + (yhi - ylo) * t / 4
            px, _ = at(xv, 0)
            _, py = at(0, yv)
            draw.line([px, y0 + h, px, y0 + h + 3], fill=(0, 0, 0))
            draw.text((px - 10, y0 + h + 4), f"{xv:.2g}", fill=(0, 0, 0))
            draw.line([x0 - 3, py, x0, py], fill=(0, 0, 0))
            draw.text((x0 - 40, py - 5), f"{yv:.2g}", fill=(0, 0, 0))
        draw.text((x0 + w // 2 - 20, y0 + h + 16), "content", fill=(0, 0, 0))
        draw.text((x0 + 4, y0 + 4), "style vs photo", fill=(90, 90, 90))
        for name, f in figs.items():
            cx, cy = at(f["content"], f["style_vs_photo"])
            ax, _ = at(f["content_min"], 0)
            bx, _ = at(f["content_max"], 0)
            _, ay = at(0, f["style_vs_photo_min"])
            _, by = at(0, f["style_vs_photo_max"])
            draw.line([ax, cy, bx, cy], fill=colour[name])
            draw.line([cx, ay, cx, by], fill=colour[name])
            draw.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], fill=colour[name], outline=(0, 0, 0))
    for i, name in enumerate(names):
        y = panel + 4 + 18 * i
        draw.ellipse([10, y + 2, 20, y + 12], fill=colour[name], outline=(0, 0, 0))
        draw.text((26, y + 1), name, fill=(0, 0, 0))
    return img
