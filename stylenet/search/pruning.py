"""Pruning: a trial reports a figure at each validation to its study, and stops when Optuna's pruner finds it
hopeless beside the trials before it at the same step (``search.pruner``: a median pruner by default).

The figure is the objective's, measured cheaply on the objective's photos at the training size, where the painting
has exactly the scale the trial trains with (the evaluation's ``style_scale=train``), with the yardstick's weights:

* ``gap_closed``: the same figure as the final evaluation (1 − median style vs photo; the bound on content kept);
* ``teacher_equiv_iters``: minus the median total loss, which ranks trials as the teacher-equivalent iterations
  do (for a given photo the teacher's curve is fixed: a lower loss is a later iteration), without the teacher.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch

from stylenet.data.images import load_image
from stylenet.data.listing import list_photos
from stylenet.networks.transformer import run_any_size
from stylenet.perceptual.loss import PerceptualLoss
from stylenet.search.objective import value
from stylenet.training.callbacks import eval_mode

log = logging.getLogger(__name__)


@contextmanager
def yardstick(loss: PerceptualLoss, weights: Mapping[str, Any]) -> Iterator[PerceptualLoss]:
    """``loss`` with the yardstick's weights for the duration, the training's restored afterwards."""
    saved = {k: getattr(loss, k) for k in weights}
    try:
        for k, v in weights.items():
            setattr(loss, k, [float(x) for x in v] if k == "style_layer_weights" else float(v))
        yield loss
    finally:
        for k, v in saved.items():
            setattr(loss, k, v)


def open_trial(storage: str, study: str, number: int, pruner: Any):
    """The running trial ``number`` of ``study``, to report to and ask (Optuna's ask-and-tell: the sweeper asked it)."""
    import optuna

    # search.pruner: null means no pruning (Optuna's own default, were None passed on, is a median pruner).
    opened = optuna.load_study(study_name=study, storage=storage, pruner=pruner or optuna.pruners.NopPruner())
    trial_id = opened._storage.get_trial_id_from_study_id_trial_number(opened._study_id, number)
    return optuna.trial.Trial(opened, trial_id)


class SearchPruning(L.Callback):
    """Args: the ``search`` node's storage, study and trial (the trial's number; None outside a search: the
    callback does nothing), the objective node, the pruner (an Optuna pruner) and the training's crop size."""

    def __init__(self, storage: str | None, study: str | None, trial: int | None, objective: Mapping[str, Any],
                 pruner: Any = None, size: int = 128):
        self.storage, self.study, self.number = storage, study, trial
        self.objective = dict(objective)
        self.pruner = pruner
        self.size = int(size)
        self.photos: list[torch.Tensor] | None = None
        self.trial = None
        self.pruned_at: int | None = None
        self.last: float | None = None

    @property
    def active(self) -> bool:
        return self.number is not None and self.storage is not None

    def measure(self, pl_module: L.LightningModule) -> float:
        """The figure reported at this step (module docstring)."""
        if self.photos is None:
            paths = list_photos(self.objective["photos"])[: int(self.objective["limit"])]
            self.photos = [load_image(p, size=self.size) for p in paths]
        name, bound = str(self.objective["name"]), self.objective.get("content_max")
        rows = []
        with eval_mode(pl_module.net) as net, torch.no_grad(), torch.autocast(pl_module.device.type, enabled=False), \
                yardstick(pl_module.loss, self.objective.get("loss") or {}) as loss:
            for photo in self.photos:
                photo = photo.to(pl_module.device)
                terms = loss(run_any_size(net, photo), photo)
                own = float(loss(photo, photo)["style"])
                rows.append((float(terms["style"]) / own if own > 0 else float("nan"), float(terms["content"]), float(terms["total"])))
        figures = {"gap_closed": 1 - statistics.median(r[0] for r in rows), "content": statistics.median(r[1] for r in rows),
                   "equiv_median": -statistics.median(r[2] for r in rows)}
        return value(name, bound, figures)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.active or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if self.trial is None:
            self.trial = open_trial(str(self.storage), str(self.study), int(self.number), self.pruner)
        step = int(trainer.global_step)
        self.last = self.measure(pl_module)
        self.trial.report(self.last, step)
        pl_module.log("search/intermediate", self.last, rank_zero_only=True)
        if self.trial.should_prune():
            log.info("trial %d pruned at step %d: %.4g is behind the trials before it at this step", self.number, step, self.last)
            self.pruned_at = step
            trainer.should_stop = True
