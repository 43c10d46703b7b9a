"""What a search leaves in its folder (``search.dir``) after each batch of trials: ``trials.md`` (a table of every
trial: state, objective, the figures it was scored on, its weights), ``best.yaml`` (the best trial's overrides, to
paste on a command line) and Optuna's plots as PNG: the history (objective per trial and the best so far), the
importance of each parameter, the intermediate values of pruned and finished trials, and the objective per parameter.

Importance uses Optuna's mean-decrease-impurity evaluator (a random forest over the trials): the default fANOVA
evaluator of Optuna 2.10, the version hydra-optuna-sweeper supports, fails with scikit-learn >= 1.4.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

from stylenet.files import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

FIGURE_KEYS = ("gap_closed", "content", "equiv_median")  # the evaluation's medians a trial keeps (user attributes)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4g}"
    return "" if v is None else str(v)


def trials_markdown(study, objective: str) -> str:
    """One row per trial, in order."""
    trials = study.get_trials(deepcopy=False)
    params = sorted({k for t in trials for k in t.params})
    head = ["trial", "state", f"objective ({objective})", "gap closed", "content", "teacher-equiv.", "last step", *params, "minutes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in trials:
        minutes = (t.datetime_complete - t.datetime_start).total_seconds() / 60 if t.datetime_complete and t.datetime_start else None
        figs = [t.user_attrs.get(k) for k in FIGURE_KEYS]
        row = [t.number, t.state.name.lower(), t.value, *figs, t.last_step, *(t.params.get(p) for p in params), minutes]
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    best = best_trial(study)
    if best is not None:
        lines += ["", f"Best: trial {best.number}, {objective} = {best.value:.4g}: "
                  + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())]
    return "\n".join(lines) + "\n"


def best_trial(study):
    import optuna

    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) if t.value is not None]
    return max(done, key=lambda t: t.value) if done else None


def best_yaml(study) -> str:
    best = best_trial(study)
    if best is None:
        return "# no trial finished yet\n"
    lines = [f"# the best trial of study {study.study_name}: {best.number}, objective {best.value:.6g}",
             "# python train.py " + " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items()),
             f"trial: {best.number}", f"value: {best.value!r}", "params:"]
    lines += [f"  {k}: {v!r}" for k, v in best.params.items()]
    return "\n".join(lines) + "\n"


def plots(study) -> dict[str, Any]:
    """Optuna's matplotlib plots that this study can draw, by file stem (a plot that needs more trials is left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna
    import optuna.visualization.matplotlib as vis
    from optuna.importance import MeanDecreaseImpurityImportanceEvaluator

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    wanted = {"history": lambda: vis.plot_optimization_history(study),
              "intermediate": lambda: vis.plot_intermediate_values(study),
              "slice": lambda: vis.plot_slice(study)}
    if len(complete) >= 2 and len({k for t in complete for k in t.params}) >= 2:
        wanted["importance"] = lambda: vis.plot_param_importances(study, evaluator=MeanDecreaseImpurityImportanceEvaluator(seed=0))
    out = {}
    for stem, draw in wanted.items():
        try:
            with warnings.catch_warnings():  # "experimental" in Optuna 2.10, on every call
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = draw()
        except (ValueError, RuntimeError, ZeroDivisionError) as e:  # too few trials for this plot
            log.info("search: no %s plot yet (%s)", stem, e)
            continue
        first = axes.flat[0] if hasattr(axes, "flat") else axes
        out[stem] = first.figure
    return out


def write(study, folder: str | Path, objective: str) -> Path:
    """Write the table, the best trial and the plots into ``folder``; returns the table's path."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(trials_markdown(study, objective), folder / "trials.md")
    atomic_write_text(best_yaml(study), folder / "best.yaml")
    for stem, fig in plots(study).items():
        with atomic_path(folder / f"{stem}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
    return folder / "trials.md"
