"""Scoring a network against the Gatys teacher (stylenet/teacher/evaluate.py) and its training callback."""

from __future__ import annotations

import torch
from helpers import LOSS

from stylenet.data.images import save_image
from stylenet.networks.transformer import TransformerNet
from stylenet.perceptual.loss import build_perceptual_loss


def test_teacher_score_callback_logs_during_a_real_validation(tmp_path):
    import lightning as L

    from stylenet.training.teacher_callback import TeacherScoreCallback

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = TransformerNet(8, 1)
            self.loss = build_perceptual_loss(**LOSS)

        def on_fit_start(self):
            self.loss.set_style(torch.rand(1, 3, 32, 32, device=self.device))

        def training_step(self, batch, _):
            return self.loss(self.net(batch), batch)["total"]

        def validation_step(self, batch, _):
            self.log("val/total", self.loss(self.net(batch), batch)["total"])

        def configure_optimizers(self):
            return torch.optim.Adam(self.net.parameters(), 1e-3)

    for i in range(3):
        save_image(torch.rand(1, 3, 24, 28), tmp_path / f"v{i}.png")
    data = torch.utils.data.DataLoader(torch.rand(2, 3, 16, 16), batch_size=1)
    for init in ("noise", "content"):  # the start is the evaluation's (noise) unless asked, and named in every metric
        cb = TeacherScoreCallback(photos=str(tmp_path), num_photos=2, size=24, iterations=4, **({} if init == "noise" else {"init": init}))
        trainer = L.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[cb], accelerator="cpu")
        trainer.fit(Tiny(), data, data)
        m = trainer.callback_metrics
        start = f"_from_{init}"
        assert {f"val/teacher_equiv_iters{start}", f"val/teacher_speed_ratio{start}", f"val/teacher_reached{start}"} <= set(m)
        assert 0 <= float(m[f"val/teacher_equiv_iters{start}"]) <= 5 and float(m[f"val/teacher_speed_ratio{start}"]) >= 0
        assert len(cb.scored_photos) == 2 and max(cb.scored_photos[0].shape[-2:]) == 24


def test_teacher_score_callback_refuses_an_unknown_start():
    import pytest

    from stylenet.config import ConfigError
    from stylenet.training.teacher_callback import TeacherScoreCallback

    with pytest.raises(ConfigError, match="teacher_score.init=photo"):
        TeacherScoreCallback(init="photo")
