"""ReconstructionGridCallback: the decoders' progress in TensorBoard.

Every ``every_n_steps`` (and at the start and end), fixed validation photos in the top row and each
trained level's reconstruction in the rows below (relu1_1 first): the same photos for the whole run, so
the grid shows the decoders learning, not the data. Reuses the data module's ``val_images`` like the
style training's :class:`~stylenet.training.callbacks.SampleGridCallback`.
"""

from __future__ import annotations

import lightning as L
import torch
from torchvision.utils import make_grid

from stylenet.training.callbacks import PeriodicImageCallback, _experiment


class ReconstructionGridCallback(PeriodicImageCallback):
    def __init__(self, every_n_steps: int = 100, num_images: int = 4):
        self.every_n_steps = every_n_steps
        self.num_images = num_images
        self._photos: torch.Tensor | None = None

    @torch.no_grad()
    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        exp = _experiment(trainer)
        if exp is None:
            return
        if self._photos is None:
            dm = trainer.datamodule
            self._photos = dm.val_images(self.num_images) if dm is not None and hasattr(dm, "val_images") else None
        if self._photos is None or len(self._photos) == 0:
            return
        x = self._photos.to(pl_module.device)
        rows = [x, *pl_module.reconstruct(x).values()]
        grid = make_grid(torch.cat(rows).float().cpu(), nrow=len(x), padding=2)
        exp.add_image("samples/reconstructions", grid, global_step=trainer.global_step)

