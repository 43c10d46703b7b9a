"""What a search maximises: one figure of the evaluation, with a bound on the content loss, written in the config
(``search.objective``, conf/hparams_search/) and checked before any trial runs.

Trials train with different loss weights, so their own losses cannot be compared; every trial is scored with the
same yardstick instead: the evaluation's loss with the weights of ``search.objective.loss`` (the protocol of
``python -m stylenet evaluate``, docs/quality.md), on held-out photos.

Objectives (each maximised):

* ``gap_closed``: 1 − style vs photo, the median over the photos of how much of the photo-to-painting Gram
  distance the network closes (0: the photo's own, 1: the painting's statistics). No teacher runs.
* ``teacher_equiv_iters``: the median teacher-equivalent L-BFGS iterations from the paper's noise start
  (Johnson et al. 2016, §4.1): the yardstick's whole loss, style, content and TV together.

The bound: a trial whose median content loss is over ``content_max`` scores ``-(content - content_max)``, below
every trial within it, and higher the nearer it came (a slope the sampler can follow). A style weight that paints
over the photo would otherwise win any style-only figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from stylenet.config import ConfigError
from stylenet.teacher.evaluate import MAX_SCORING_SIDE

# name -> (the evaluation's figure it reads, whether the teacher must run, what it means)
OBJECTIVES: dict[str, tuple[str, bool, str]] = {
    "gap_closed": ("gap_closed", False, "1 - style vs photo (median)"),
    "teacher_equiv_iters": ("equiv_median", True, "teacher-equivalent iterations from noise (median)"),
}
# The teacher's budget per photo in a trial's objective: past it one trial's scoring takes hours on a CPU.
MAX_TRIAL_ITERATIONS = 10_000
# The yardstick's keys: loss weights every trial is scored with (conf/loss), whatever it trained with.
YARDSTICK_KEYS = ("content_weight", "style_weight", "tv_weight", "style_layer_weights")


@dataclass
class TrialOutcome:
    """What a trial's job hands back to the sweeper (pickled by value: submitit's launcher runs jobs elsewhere)."""

    value: float
    pruned: bool = False
    step: int = 0
    figures: dict[str, float] = field(default_factory=dict)


def value(name: str, content_max: float | None, figures: dict[str, float]) -> float:
    """The objective from an evaluation's medians (:meth:`stylenet.teacher.quality.Cell.figures`)."""
    content = figures.get("content", math.nan)
    if not math.isfinite(content):
        return -math.inf
    if content_max is not None and content > content_max:
        return -(content - content_max)
    return float(figures[OBJECTIVES[name][0]])


def needs_teacher(name: str) -> bool:
    return OBJECTIVES[name][1]


def check_storage(url: Any) -> None:
    """An RDB URL Optuna can open: ``sqlite:///path.db`` (the default) or another database's URL."""
    text = str(url or "")
    parsed = urlparse(text)
    if not parsed.scheme or "://" not in text:
        raise ConfigError(f"search.storage={url!r} is not a database URL; give one, e.g. search.storage=sqlite:///logs/search/study.db "
                          "(the study lives there, so a killed search resumes)")
    if parsed.scheme.split("+")[0] == "sqlite" and not text.startswith("sqlite:///"):
        raise ConfigError(f"search.storage={url!r}: a SQLite URL names a file, sqlite:///relative.db or sqlite:////absolute.db")


def check_search(cfg: Any) -> None:
    """A run's ``search`` node (conf/hparams_search/*.yaml), before any trial: one line naming the key."""
    from stylenet.data.listing import list_photos
    from stylenet.errors import StylenetError
    from stylenet.training.checks import finite, whole

    search = cfg.search
    obj = search.get("objective") or {}
    name = obj.get("name")
    if name not in OBJECTIVES:
        raise ConfigError(f"search.objective.name={name!r} is not an objective; give one of {', '.join(OBJECTIVES)} "
                          "(stylenet/search/objective.py says what each measures)")
    if obj.get("content_max") is not None:
        finite(cfg, "search.objective.content_max", 0, above=True, example=1.0,
               say="must be a number > 0 (the bound on the median content loss) or null")
    if not obj.get("photos"):
        raise ConfigError("search.objective.photos is empty: give held-out photos the trials do not train on, "
                          "e.g. search.objective.photos=~/photos_val (data.val_path by default)")
    try:
        list_photos(obj.photos)
    except StylenetError as e:
        raise ConfigError(f"search.objective.photos: {e}") from None
    whole(cfg, "search.objective.limit", 1, example=4)
    whole(cfg, "search.objective.size", 16, MAX_SCORING_SIDE, example=256)
    whole(cfg, "search.objective.iterations", 0, MAX_TRIAL_ITERATIONS, example=200)
    unknown = sorted(set(obj.get("loss") or {}) - set(YARDSTICK_KEYS))
    if unknown:
        raise ConfigError(f"search.objective.loss has {unknown}: the yardstick takes {', '.join(YARDSTICK_KEYS)}")
    check_storage(search.get("storage"))
    if not str(search.get("study") or "").strip():
        raise ConfigError("search.study is empty: name the study, e.g. search.study=wave-weights")
