"""What a teacher score is, shared by the scoring (:mod:`~stylenet.teacher.evaluate`), the curve cache
(:mod:`~stylenet.teacher.cache`) and the reports (:mod:`~stylenet.teacher.report`,
:mod:`~stylenet.teacher.quality`): the score record, its CSV row, the curve's columns and CSV, and the
teacher-equivalent iteration. Its own module so that those three import it and not each other.

The loss columns are the registered image terms (:mod:`stylenet.perceptual.terms`) and ``total``, read when
asked, so a term registered later has its column in every curve and score written after.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import stylenet.perceptual.loss  # noqa: F401 - registers content, style and tv, the columns every curve has
from stylenet.perceptual.terms import names

# Style loss also measured with output and painting both shrunk by these factors: at the photo's own scale the
# Gram loss rewards fine texture, while a person judges strokes seen whole (a coarser VGG view sees them so).
COARSE_FACTORS = (2, 4)
START_NAMES = {"noise": "noise", "uniform": "white noise", "content": "the photo"}
# The paper's start, the evaluation's first (conf/evaluate.yaml) and the training callback's: Johnson et al.
# ran jcjohnson/neural-style, whose default start is noise; its seed, the evaluation's default.
PAPER_START, PAPER_SEED = "noise", 0


def loss_columns() -> tuple[str, ...]:
    """The teacher's loss terms, in registration order, then their sum: every curve row has these."""
    return (*names("image"), "total")


def curve_columns() -> tuple[str, ...]:
    """The columns of a teacher's curve CSV."""
    return ("iteration", "time", *loss_columns())


def curve_csv(history: Sequence[dict[str, float]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(curve_columns())
    for r in history:
        w.writerow([int(r["iteration"]), f"{r['time']:.6f}", *(f"{r[k]:.8g}" for k in loss_columns())])
    return buf.getvalue()


def read_curve_csv(text: str) -> list[dict[str, float]]:
    """A curve written by :func:`curve_csv`; a ``KeyError`` or ``ValueError`` when it is not one (a column
    missing: written before a term was registered)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    history = [{k: float(r[k]) for k in curve_columns()} for r in rows]
    for r in history:
        r["iteration"] = int(r["iteration"])
    return history


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
    spike: int | None = None  # the teacher's curve left for good at this iteration (scored up to it)
    coarse: dict[int, float] = field(default_factory=dict)  # factor → style vs photo with both shrunk by it

    @property
    def style_vs_photo(self) -> float:
        """The network's style loss / the photo's: 1 = no closer to the painting than the photo, 0 = all the way."""
        return self.net_terms["style"] / self.photo_style if self.photo_style > 0 else math.nan

    @property
    def speed_ratio(self) -> float:
        """Teacher time to the network's loss / network time (a lower bound when not reached); NaN when the
        network's time is unknown (outputs made by another tool)."""
        if math.isnan(self.net_seconds):
            return math.nan
        return self.teacher_seconds / self.net_seconds if self.net_seconds > 0 else math.inf


def photo_row(scores: Sequence[PhotoScore]) -> dict[str, Any]:
    """One photo's CSV row: the network's terms once, then the teacher's figures for each start."""
    first = scores[0]
    row: dict[str, Any] = {
        "photo": first.name,
        **{f"net_{k}": first.net_terms[k] for k in loss_columns()},
        "photo_style": first.photo_style,
        "style_vs_photo": first.style_vs_photo,
        **{f"style_vs_photo_{f}x_coarser": first.coarse.get(f, math.nan) for f in COARSE_FACTORS},
        "net_seconds": first.net_seconds,
    }
    for sc in scores:
        row |= {
            f"equiv_iters_from_{sc.init}": format_equiv(sc.equiv, sc.iterations),
            f"teacher_spike_from_{sc.init}": "" if sc.spike is None else sc.spike,
            f"teacher_seconds_from_{sc.init}": sc.teacher_seconds,
            f"speed_ratio_from_{sc.init}": ("> " if sc.equiv is None else "") + f"{sc.speed_ratio:.4g}",
            f"teacher_final_total_from_{sc.init}": sc.history[-1]["total"] if sc.history else math.nan,
        }
    return row
