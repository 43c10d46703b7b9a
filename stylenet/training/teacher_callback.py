"""The teacher score during training: how many Gatys L-BFGS iterations the network is worth, now.

Johnson et al. (2016, §4.1) report their network by the L-BFGS iteration count whose loss it matches;
this callback logs that number on a few fixed validation photos after validation, so a run shows the
network climbing the teacher's curve. The computation of ``python -m stylenet evaluate``
(:func:`stylenet.teacher.evaluate.score_photo_starts`) from one start, named in every metric (``init``: noise, the
paper's and the evaluation's first, by default), with a small budget K, an early stop once the teacher
reaches the network's loss, and the painting at the training's own style size (the evaluation's
``style_scale=train`` at the training size is the same).

Logged (medians over the photos), ``<init>`` the start:

* ``val/teacher_equiv_iters_from_<init>`` — teacher-equivalent iterations; K + 1 when not reached within K;
* ``val/teacher_speed_ratio_from_<init>`` — teacher time to that loss / network time (a lower bound if not reached);
* ``val/teacher_reached_from_<init>`` — fraction of photos whose loss the teacher reached within K.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch

from stylenet.config import ConfigError
from stylenet.data.images import load_image, resize_tensor_long_side
from stylenet.data.listing import list_photos
from stylenet.teacher.evaluate import score_photo_starts, warm_up
from stylenet.teacher.gatys import INITS
from stylenet.teacher.scores import PAPER_SEED, PAPER_START
from stylenet.training.callbacks import eval_mode


class TeacherScoreCallback(L.Callback):
    """Args:
    photos: image files or folders (the first ``num_photos`` images, sorted); None = the datamodule's
        ``val_images(num_photos)`` when it has that method.
    num_photos: how many photos to score (each costs up to ``iterations`` VGG forward+backward passes).
    size: long side the photos are resized to.
    iterations: K, the teacher's budget per photo.
    every_n_validations: score after every n-th validation (1 = each).
    optimizer: "lbfgs" (as the evaluation) or "adam".
    init: the teacher's start: "noise" (the paper's protocol), "uniform" (white noise) or "content" (the photo).
    """

    def __init__(
        self,
        photos: Sequence[str] | str | None = None,
        num_photos: int = 2,
        size: int = 128,
        iterations: int = 50,
        every_n_validations: int = 1,
        optimizer: str = "lbfgs",
        init: str = PAPER_START,
    ):
        if init not in INITS:
            raise ConfigError(f"teacher_score.init={init} must be one of {', '.join(INITS)}")
        self.photos = [photos] if isinstance(photos, (str, Path)) else (list(photos) if photos is not None else None)
        self.num_photos = num_photos
        self.size = size
        self.iterations = iterations
        self.every_n_validations = max(1, every_n_validations)
        self.optimizer = optimizer
        self.init = init
        self.scored_photos: list[torch.Tensor] | None = None  # loaded at the first validation, then the same every time
        self._validations = 0
        self._warmed_up = False

    def _load_photos(self, trainer: L.Trainer) -> list[torch.Tensor]:
        if self.scored_photos is None:
            if self.photos is not None:
                self.scored_photos = [load_image(p, size=self.size) for p in list_photos(self.photos)[: self.num_photos]]
            else:
                dm = getattr(trainer, "datamodule", None)
                batch = dm.val_images(self.num_photos) if dm is not None and hasattr(dm, "val_images") else None
                self.scored_photos = [] if batch is None else [b if b.dim() == 4 else b.unsqueeze(0) for b in batch[: self.num_photos]]
                self.scored_photos = [resize_tensor_long_side(img, self.size) for img in self.scored_photos]
        return self.scored_photos

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:  # one process scores; the others wait
            return
        self._validations += 1
        if (self._validations - 1) % self.every_n_validations:
            return
        photos = self._load_photos(trainer)
        if not photos:
            return
        loss = pl_module.loss
        # Validation runs under inference mode; the teacher needs autograd on its pixels.
        with eval_mode(pl_module.net) as net, torch.inference_mode(False), torch.enable_grad(), \
                torch.autocast(pl_module.device.type, enabled=False):
            # Buffers created under inference mode (a style set during validation) cannot enter autograd.
            for name, buf in list(loss.named_buffers(recurse=False)):
                if buf.is_inference():
                    setattr(loss, name, buf.clone())
            if not self._warmed_up:
                warm_up(net, loss, pl_module.device)
                self._warmed_up = True
            # The evaluation's own scoring, from its start and seed: the same figure `stylenet evaluate` gives.
            scores = [
                score_photo_starts(net, loss, p.to(pl_module.device), inits=(self.init,), iterations=self.iterations,
                                   optimizer=self.optimizer, seed=PAPER_SEED, repeats=1, full_curve=False)[0][0]
                for p in photos
            ]
        k = self.iterations
        equiv = [float(s.equiv) if s.equiv is not None else float(k + 1) for s in scores]
        start = f"_from_{self.init}"
        metrics = {
            f"val/teacher_equiv_iters{start}": statistics.median(equiv),
            f"val/teacher_speed_ratio{start}": statistics.median(s.speed_ratio for s in scores),
            f"val/teacher_reached{start}": sum(s.equiv is not None for s in scores) / len(scores),
        }
        pl_module.log_dict(metrics, sync_dist=False, rank_zero_only=True)
