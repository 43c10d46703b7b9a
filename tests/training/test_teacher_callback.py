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


def test_the_callback_gives_the_teacher_equivalent_figure_of_the_evaluation(tmp_path):
    """Same start (the evaluation's first: noise), same seed, same scoring: the callback's median is what
    `stylenet evaluate` would report for the same network, photos and budget."""
    import statistics
    from types import SimpleNamespace

    from stylenet.config import compose
    from stylenet.data.images import load_image
    from stylenet.teacher.evaluate import score_photo_starts
    from stylenet.training.teacher_callback import TeacherScoreCallback

    # The photo passed through, a little darkened: a loss the teacher from noise reaches after some iterations.
    net = torch.nn.Sequential(torch.nn.Identity()).eval()
    net.forward = lambda x: 0.9 * x
    loss = build_perceptual_loss(**{**LOSS, "content_weight": 1e4, "style_weight": 1e6})
    loss.set_style(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    for i in range(2):  # smooth, photo-like
        photo = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 24, 28, generator=torch.Generator().manual_seed(2 + i)), 5, 1, 2)
        save_image(photo, tmp_path / f"v{i}.png")
    k = 8
    logged: dict = {}
    module = SimpleNamespace(net=net, loss=loss, device=torch.device("cpu"), log_dict=lambda m, **_: logged.update(m))
    TeacherScoreCallback(photos=str(tmp_path), num_photos=2, size=24, iterations=k).on_validation_epoch_end(
        SimpleNamespace(sanity_checking=False, is_global_zero=True), module)

    cfg = compose("evaluate", [])  # the evaluation's defaults: its first start and its seed
    scores = [score_photo_starts(net, loss, load_image(p, size=24), p.name, inits=(cfg.init[0],), iterations=k,
                                 seed=cfg.seed, repeats=1)[0][0] for p in sorted(tmp_path.glob("*.png"))]
    equiv = [s.equiv if s.equiv is not None else k + 1 for s in scores]
    assert logged[f"val/teacher_equiv_iters_from_{cfg.init[0]}"] == statistics.median(equiv)
    assert all(s.equiv for s in scores)  # reached after some iterations from noise (from the photo: at once)
