"""What an evaluation writes: the scores as CSV (the curves' CSV is :func:`stylenet.teacher.scores.curve_csv`), the summary as markdown, and
the numbers behind the side-by-side figure per photo (:mod:`stylenet.teacher.evaluate` computes them;
:func:`stylenet.data.images.side_by_side` draws the figure)."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from typing import Any

from stylenet.perceptual.terms import get
from stylenet.teacher.scores import COARSE_FACTORS, START_NAMES, PhotoScore, format_equiv, loss_columns, photo_row


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
        if math.isnan(v):
            return "n/a"  # the network's time of outputs made by another tool (evaluate outputs=)
        if not math.isfinite(v):
            return "inf"
        return f"{v:g}" if iterations is not None else f"{v:.4g}"

    vals = sorted(values)
    q1, q3 = _quartiles(vals)
    return {"median": fmt(statistics.median(vals)), "q1": fmt(q1), "q3": fmt(q3), "min": fmt(vals[0]), "max": fmt(vals[-1])}


def summary_markdown(photos: Sequence[Sequence[PhotoScore]], failures: Sequence[tuple[str, str]], info: dict[str, Any]) -> str:
    """``photos`` holds each photo's scores, one per teacher start, in the order of ``info["inits"]``."""
    k = info["iterations"]
    terms = loss_columns()[:-1]  # every registered image term, in order (then "total")
    weights = ", ".join(f"{t} {float(info['loss'].get(get(t).weight_key, 0.0)):g}" for t in terms)
    starts = " and ".join(
        f"from {START_NAMES.get(i, i)}" + (f" (seed {info['seed']})" if i == "noise" else "") for i in info["inits"]
    )
    lines = [
        "# Teacher score",
        "",
        f"Checkpoint `{info['ckpt']}` (style `{info['style']}`"
        + (f", trained {info['global_step']} steps" if info.get("global_step") is not None else "") + "), "
        f"{len(photos)} photo(s) scored, {len(failures)} failed; photos at long side {info['size']} px on {info['device']}"
        + (f", the painting at {info['style_size']} px" if info.get("style_size") else "")
        + (f" ({info['style_scale']:g} x the photo's long side)" if info.get("style_scale") else "") + ".",
        f"Teacher: {info['optimizer']} {starts}, up to K = {k} iterations, {info['loss_source']} "
        f"({info['loss'].get('network', 'vgg16')}, {weights}, VGG weights `{info['loss']['weights']}`).",
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
            spiked = sum(s.spike is not None for s in col)
            where = START_NAMES.get(init, init)
            flag = f", {spiked} scored before a late teacher spike" if spiked else ""
            lines += [
                f"| teacher-equivalent iterations from {where} ({reached}/{len(col)} reached{flag}) | {e['median']} | {e['q1']} – {e['q3']} | {e['min']} – {e['max']} |",
                f"| speed ratio (×) from {where} | {r['median']} | {r['q1']} – {r['q3']} | {r['min']} – {r['max']} |",
            ]
        first = [p[0] for p in photos]
        coarse = [(f"network style loss / photo's own, all {f}x smaller", [s.coarse.get(f, math.nan) for s in first])
                  for f in COARSE_FACTORS if any(f in s.coarse for s in first)]
        for label, values in (
            ("network style loss / photo's own", [s.style_vs_photo for s in first]),
            *coarse,
            ("network content loss", [s.net_terms["content"] for s in first]),
            ("network total loss", [s.net_terms["total"] for s in first]),
            ("network time (s)", [s.net_seconds for s in first]),
        ):
            v = spread(values)
            lines.append(f"| {label} | {v['median']} | {v['q1']} – {v['q3']} | {v['min']} – {v['max']} |")
        heads = " | ".join(f"iters from {START_NAMES.get(i, i)}" for i in info["inits"])
        # "style vs photo" sits beside the style loss it divides
        cols = [f"net {n}" + (" | style vs photo" if n == "style" else "") for n in terms]
        lines += [
            "",
            f"| photo | {' | '.join(cols)} | net total | {heads} | net s |",
            "|---|" + "---|" * (" | ".join(cols).count("|") + 1 + 1 + len(info["inits"]) + 1),
        ]
        for p in photos:
            t = p[0].net_terms
            iters = " | ".join(format_equiv(s.equiv, k) for s in p)
            cells = [f"{t[n]:.4g}" + (f" | {p[0].style_vs_photo:.3g}" if n == "style" else "") for n in terms]
            lines.append(
                f"| {p[0].name} | {' | '.join(cells)} | "
                f"{t['total']:.4g} | {iters} | {'n/a' if math.isnan(p[0].net_seconds) else format(p[0].net_seconds, '.3g')} |"
            )
    if failures:
        lines += ["", "## Failed", ""] + [f"- `{name}`: {msg}" for name, msg in failures]
    return "\n".join(lines) + "\n"


