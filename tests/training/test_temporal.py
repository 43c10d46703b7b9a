"""Temporal consistency terms learned from photos (stylenet/training/temporal.py)."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_cfg

from stylenet.config import ConfigError, compose
from stylenet.networks.checkpoint import read_checkpoint
from stylenet.training.build import train
from stylenet.training.temporal import TemporalConfig, apply_motion, random_motion, temporal_terms

STILL = dict(max_shift=0.0, max_rotation=0.0, max_zoom=0.0, elastic=0.0)


def photos(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.avg_pool2d(torch.rand(2, 3, 40, 52, generator=g), 3, 1, 1)  # smooth, photo-like


def test_no_motion_is_the_identity_and_a_shift_moves_the_picture():
    x = photos()
    moved, inside = apply_motion(x, random_motion(x, TemporalConfig(**STILL)))
    torch.testing.assert_close(moved, x, atol=1e-5, rtol=0)
    assert inside.all()
    cfg = TemporalConfig(**{**STILL, "max_shift": 6.0})
    grid = random_motion(x, cfg, torch.Generator().manual_seed(1))
    moved, inside = apply_motion(x, grid)
    assert 0.7 < inside.float().mean() < 1.0  # pixels shifted in from outside the frame are left out
    assert (moved - x).abs().mean() > 0.01


def test_the_mask_keeps_only_pixels_whose_whole_footprint_is_inside_the_frame():
    # A white frame moved by a fraction of a pixel: every kept pixel must still be white. The old mask (the
    # sampling point within the frame) kept the half-darkened edge, where grid_sample mixes in its zero padding.
    white = torch.ones(3, 3, 40, 52)
    for seed in range(3):
        grid = random_motion(white, TemporalConfig(**{**STILL, "max_shift": 3.0, "max_rotation": 2.0}), torch.Generator().manual_seed(seed))
        moved, inside = apply_motion(white, grid)
        assert inside.sum() > 0.8 * inside.numel()
        torch.testing.assert_close(moved * inside, inside.expand_as(moved), atol=1e-4, rtol=0)
    half = torch.zeros(1, 8, 10, 2)  # every sampling point half a pixel left of its pixel: column 0 reads the padding
    ys, xs = torch.meshgrid(torch.linspace(-1 + 1 / 8, 1 - 1 / 8, 8), torch.linspace(-1 + 1 / 10, 1 - 1 / 10, 10), indexing="ij")
    half[0, ..., 0], half[0, ..., 1] = xs - 1 / 10, ys
    _, inside = apply_motion(torch.ones(1, 3, 8, 10), half)
    assert not inside[..., 0].any() and inside[..., 1:].all()


def test_an_equivariant_network_pays_nothing_and_a_fixed_pattern_does():
    x = photos()
    cfg = TemporalConfig(motion_weight=1.0, noise_weight=1.0)
    identity = lambda t: t  # noqa: E731  (moves with the scene, ignores noise? no: passes it through)
    terms = temporal_terms(identity, x, identity(x), cfg, torch.Generator().manual_seed(0))
    assert terms["motion"] < 1e-10 and terms["noise"] > 1e-4  # noise passes through the identity
    pattern = torch.rand(1, 3, 40, 52, generator=torch.Generator().manual_seed(2))
    painted = lambda t: 0.5 * t + 0.5 * pattern  # noqa: E731  (strokes glued to the frame: they flicker on a moving film)
    terms = temporal_terms(painted, x, painted(x), cfg, torch.Generator().manual_seed(0))
    assert terms["motion"] > 1e-3
    constant = lambda t: torch.zeros_like(t)  # noqa: E731
    assert temporal_terms(constant, x, constant(x), cfg)["noise"] == 0
    assert temporal_terms(identity, x, x, TemporalConfig()) == {}  # off: nothing computed


@pytest.mark.parametrize("override", ["module.temporal.motion_weight=-1", "module.temporal.noise_std=nan",
                                      "module.temporal.start_step=1.5", "module.temporal.ramp_steps=-3"])
def test_bad_temporal_settings_are_one_line_before_work(tmp_path, override):
    with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
        train(tiny_cfg(tmp_path, override))
    assert not (tmp_path / "ckpt").exists()


def test_training_with_the_terms_logs_them_saves_them_and_resumes_exactly(tmp_path):
    on = ["module.temporal.motion_weight=10", "module.temporal.noise_weight=10"]
    a, b = tmp_path / "a", tmp_path / "b"
    metrics, _ = train(tiny_cfg(a, *on, "trainer.max_steps=6"))
    assert metrics["train/motion"] > 0 and metrics["train/noise"] > 0
    train(tiny_cfg(b, *on, "trainer.max_steps=3", "callbacks.model_checkpoint.every_n_train_steps=3"))
    train(tiny_cfg(b, *on, "trainer.max_steps=6", "ckpt_path=last"))
    ca, cb = (read_checkpoint(p / "ckpt" / "wave" / "last.ckpt") for p in (a, b))
    assert ca["stylenet"]["train"]["temporal"]["motion_weight"] == 10.0
    for k in ca["state_dict"]:  # the motions and noise are drawn from the step: a resume draws the same ones
        torch.testing.assert_close(ca["state_dict"][k], cb["state_dict"][k], rtol=1e-4, atol=1e-5)


def test_the_video_recipe_is_the_quick_one_with_the_terms_on():
    quick, video = compose("train", ["experiment=quick"]), compose("train", ["experiment=video"])
    assert video.module.temporal.motion_weight > 0 and video.module.temporal.noise_weight > 0
    assert (video.model, video.loss, video.data.image_size, video.trainer.max_steps) == (
        quick.model, quick.loss, quick.data.image_size, quick.trainer.max_steps)
    assert video.run_name == "wave_video"  # its own folder next to the frame-by-frame network
    # the terms come in once the style is learnt (docs/video.md: +8 % style for -45 % flicker, against +30 % from step 0)
    t = video.module.temporal
    assert video.module.style_warmup_steps <= t.start_step and t.start_step + t.ramp_steps < video.trainer.max_steps


def test_the_terms_come_in_late_and_ramp_to_their_weights():
    cfg = TemporalConfig(motion_weight=10.0, noise_weight=4.0, start_step=100, ramp_steps=50, **STILL)
    assert [cfg.factor(s) for s in (0, 99, 100, 124, 149, 500)] == [0.0, 0.0, 1 / 50, 25 / 50, 1.0, 1.0]
    assert TemporalConfig(motion_weight=1.0, start_step=3).factor(3) == 1.0  # no ramp: on at once
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    painted = lambda t: t.flip(1) * 0.5  # noqa: E731
    assert temporal_terms(painted, x, painted(x), cfg, step=99) == {}  # before the start: nothing computed
    full = temporal_terms(painted, x, painted(x), cfg, torch.Generator().manual_seed(1), step=200)
    half = temporal_terms(painted, x, painted(x), cfg, torch.Generator().manual_seed(1), step=124)
    torch.testing.assert_close(half["noise"], full["noise"] / 2)


def test_terms_that_start_after_the_run_cost_nothing_and_are_not_logged(tmp_path):
    metrics, objs = train(tiny_cfg(tmp_path, "module.temporal.motion_weight=10", "module.temporal.start_step=50",
                                   "trainer.max_steps=2"))
    assert "train/motion" not in metrics
    assert objs["module"].stylenet_meta()["train"]["temporal"]["start_step"] == 50


def test_the_video_fine_tune_starts_from_the_frame_by_frame_network_of_its_painting(tmp_path):
    cfg = compose("train", ["experiment=video_finetune", "style=udnie", f"paths.checkpoints={tmp_path}"])
    assert cfg.init_from == f"{tmp_path}/udnie/last.ckpt" and cfg.run_name == "udnie_video"
    assert cfg.module.temporal.motion_weight > 0 and cfg.module.style_warmup_steps == 0
    with pytest.raises(ConfigError, match=r"no such checkpoint; .*python train.py experiment=quick style=udnie"):
        train(tiny_cfg(tmp_path, "experiment=video_finetune", "style=udnie"))
