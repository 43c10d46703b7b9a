"""The training callbacks that are not covered through a whole run elsewhere: the run's cost estimate."""

from __future__ import annotations

import time

import pytest
from helpers import Recorder, datamodule, noise

from stylenet.training.callbacks import RunEstimate, format_duration


class Slow(Recorder):
    """A training step that takes at least ``seconds``: a known cost per step to estimate."""

    seconds = 0.03

    def training_step(self, batch, batch_idx):
        time.sleep(self.seconds)
        return super().training_step(batch, batch_idx)


def _run(tmp_path, max_steps, estimate, ckpt_path=None, callbacks=()):
    import lightning as L

    folder = tmp_path / "photos"
    if not folder.exists():
        folder.mkdir(parents=True)
        for i in range(4):
            noise(folder / f"{i}.png", seed=i)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[estimate, *callbacks], default_root_dir=tmp_path, max_steps=max_steps, max_epochs=-1,
                        num_sanity_val_steps=0, limit_val_batches=0, enable_checkpointing=bool(callbacks))
    trainer.fit(Slow(), datamodule=datamodule(folder), ckpt_path=ckpt_path)
    return trainer


def test_the_estimate_is_the_measured_step_time_times_the_steps_left(tmp_path, capsys):
    est = RunEstimate(steps=5, skip=1, hint_over=0.5, hint="try experiment=quick")
    _run(tmp_path, 40, est)
    # printed after step 1 + 5: 34 steps left at >= 0.03 s each (and not wildly more: the step is mostly the sleep)
    assert 34 * Slow.seconds <= est.estimate_s < 34 * Slow.seconds * 4
    out = capsys.readouterr().out
    assert out.count("estimate: ") == 1 and "the 34 steps left take about" in out
    assert "(try experiment=quick)" in out  # over hint_over: the cheaper recipe is named


def test_no_hint_under_the_threshold_and_nothing_for_a_run_shorter_than_the_window(tmp_path, capsys):
    est = RunEstimate(steps=5, skip=1, hint_over=3600, hint="try experiment=quick")
    _run(tmp_path, 40, est)
    out = capsys.readouterr().out
    assert "estimate: " in out and "try experiment" not in out
    short = RunEstimate(steps=5, skip=1)
    _run(tmp_path / "short", 4, short)  # ends inside the window: nothing left to estimate, nothing printed
    assert "estimate: " not in capsys.readouterr().out


def test_a_resumed_run_counts_from_where_it_resumed(tmp_path, capsys):
    from lightning.pytorch.callbacks import ModelCheckpoint

    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=10)
    _run(tmp_path, 10, RunEstimate(steps=3, skip=1), callbacks=[ckpt])
    capsys.readouterr()
    est = RunEstimate(steps=3, skip=1)
    _run(tmp_path, 30, est, ckpt_path=str(tmp_path / "ckpt" / "last.ckpt"))
    assert "the 16 steps left take about" in capsys.readouterr().out  # resumed at 10, measured 11..14


def test_a_progressive_run_counts_its_later_steps_at_the_pixel_ratio(tmp_path, capsys, monkeypatch):
    from stylenet.training.module import Progressive

    monkeypatch.setattr(Slow, "progressive", Progressive(16, 20), raising=False)  # 20 steps at 16 px, then 32 px
    monkeypatch.setattr(Slow, "image_size", 32, raising=False)
    est = RunEstimate(steps=5, skip=1)
    _run(tmp_path, 40, est)
    # 14 steps left at 16 px and 20 at 32 px, which cost 4x: 94 measured steps' worth, not 34
    assert 94 * Slow.seconds <= est.estimate_s < 94 * Slow.seconds * 4
    assert "at 16 px, about 4x that for the 20 steps at 32 px; the 34 steps left take about" in capsys.readouterr().out


@pytest.mark.parametrize("seconds,text", [(45, "45 s"), (12 * 60, "12 min"), (3.4 * 3600, "3.4 h"), (50 * 3600, "2.1 days")])
def test_durations_read_as_a_person_says_them(seconds, text):
    assert format_duration(seconds) == text


def test_a_window_of_no_steps_is_refused():
    with pytest.raises(ValueError, match="steps >= 1"):
        RunEstimate(steps=0)
