"""The decoder training (stylenet/training/decoder_module.py, decoders.py, conf/decoders.yaml): steps, checkpoints, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import write_universal
from omegaconf import OmegaConf

from stylenet.config import ConfigError, compose
from stylenet.training.decoder_module import DecoderModule
from stylenet.training.decoders import train_decoders
from stylenet.universal.checkpoint import read_universal

TINY = ["decoders.encoder.weights=random", "decoders.levels=[1,2]", "data.image_size=32", "data.batch_size=2",
        "data.num_workers=0", "data.val_split=1", "trainer.val_check_interval=2", "trainer.limit_val_batches=1", "module.scheduler=null",
        "callbacks.model_checkpoint.every_n_train_steps=2", "callbacks.reconstruction_grid.every_n_steps=2",
        "decoders.init.images=4"]


def cfg(tmp: Path, *overrides: str):
    return compose("decoders", [*TINY, f"paths.checkpoints={tmp / 'ckpt'}", f"paths.logs={tmp / 'logs'}", *overrides])


def test_training_writes_one_universal_checkpoint_without_vgg_that_resumes_exactly(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    metrics, objs = train_decoders(cfg(a, "trainer.max_steps=4"))
    for k in (1, 2):  # per-level terms, PSNR and time per step, and validation PSNR per level
        assert {f"train/level{k}/pixel", f"train/level{k}/feature", f"train/level{k}/psnr", f"time/level{k}",
                f"val/level{k}/psnr"} <= set(metrics)
        assert metrics[f"time/level{k}"] > 0
    last = a / "ckpt" / "universal" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 4 and ckpt["stylenet"]["kind"] == "universal" and ckpt["stylenet"]["levels"] == [1, 2]
    assert ckpt["stylenet"]["encoder"] == {"network": "vgg19", "weights": "random"}
    assert all(k.startswith("decoders.") for k in ckpt["state_dict"])  # no VGG weights
    # The input scale: 1 / the RMS of the first batch's features, set once and saved (decoder.py).
    scale = ckpt["state_dict"]["decoders.relu1_1.input_scale"]
    assert scale.shape == () and float(scale) != 1.0 and float(scale) > 0
    decoders, meta = read_universal(last)
    assert sorted(decoders) == [1, 2] and meta.train["global_step"] == 4
    assert any((a / "logs" / "tensorboard").rglob("events.out.*"))

    train_decoders(cfg(b, "trainer.max_steps=2"))
    _, objs2 = train_decoders(cfg(b, "trainer.max_steps=4", "ckpt_path=last"))
    assert objs2["trainer"].global_step == 4
    wa = ckpt["state_dict"]
    wb = torch.load(b / "ckpt" / "universal" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5, msg=f"{k} differs after resume")


def test_resuming_with_other_levels_is_one_line(tmp_path):
    (tmp_path / "ckpt" / "universal").mkdir(parents=True)
    write_universal(tmp_path / "ckpt" / "universal" / "last.ckpt", levels=(1, 2))
    with pytest.raises(ConfigError, match=r"holds levels \[1, 2\] but this run trains \[1\]"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=2", "ckpt_path=last", "decoders.levels=[1]"))


def test_a_half_width_run_writes_its_width_and_refuses_to_resume_at_another(tmp_path):
    train_decoders(cfg(tmp_path, "trainer.max_steps=2", "decoders.width=0.5"))
    decoders, meta = read_universal(tmp_path / "ckpt" / "universal" / "last.ckpt")
    assert meta.width == 0.5 and decoders[2].layers[1].out_channels == 32  # 128 features -> conv1_2's 64 channels, halved
    with pytest.raises(ConfigError, match=r"holds decoders of width 0.5 but this run trains width 1; resume with decoders.width=0.5"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=4", "ckpt_path=last"))
    with pytest.raises(ConfigError, match=r"decoders.width=2 must be a number in \[0.125, 1\]"):
        train_decoders(cfg(tmp_path / "b", "decoders.width=2"))


@pytest.mark.parametrize("levels", ["[]", "[6]", "[0,1]"])
def test_bad_levels_are_refused_before_work(tmp_path, levels):
    with pytest.raises(ConfigError, match="decoders.levels"):
        train_decoders(cfg(tmp_path, f"decoders.levels={levels}"))


def test_a_diverged_decoder_is_never_saved(tmp_path):
    module = DecoderModule([1], {"network": "vgg19", "weights": "random"}, optimizer=torch.optim.Adam)
    with torch.no_grad():
        next(module.decoders.parameters()).fill_(float("nan"))
    with pytest.raises(Exception, match="exploded"):
        module.on_save_checkpoint({"state_dict": module.state_dict()})


def test_level_loss_is_pixel_plus_weighted_feature_mse_raw_or_relative():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    raw = DecoderModule([2], {"network": "vgg19", "weights": "random"}, optimizer=torch.optim.Adam, feature_weight=3.0,
                        normalize_features=False)
    target = raw.encoder(x)["relu2_1"]
    terms = raw.level_terms(2, x, target)
    assert terms["total"].item() == pytest.approx((terms["pixel"] + 3.0 * terms["feature"]).item(), rel=1e-6)
    raw.normalize_features = True
    rel = raw.level_terms(2, x, target)
    assert rel["feature"].item() == pytest.approx(terms["feature"].item() / target.pow(2).mean().item(), rel=1e-5)


def test_a_fresh_run_starts_from_the_least_squares_fit_and_says_so_in_its_checkpoint(tmp_path):
    still = ["trainer.max_steps=1", "trainer.val_check_interval=1", "module.optimizer.lr=1e-12"]  # the start, unmoved
    fitted, _ = train_decoders(cfg(tmp_path / "a", *still, "decoders.init.images=4"))
    default, _ = train_decoders(cfg(tmp_path / "b", *still, "decoders.init.images=0"))
    for k in (1, 2):
        assert fitted[f"val/level{k}/psnr"] > default[f"val/level{k}/psnr"] + 3
    ckpt = torch.load(tmp_path / "a" / "ckpt" / "universal" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["stylenet"]["train"]["init_images"] == 4


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "abc"])
def test_a_bad_feature_weight_is_one_line_before_work(tmp_path, value):
    """nan stopped the run at step 0 advising a lower learning rate; -1 trained on a negative loss."""
    with pytest.raises(ConfigError, match=r"decoders.feature_weight=.* must be a finite number >= 0"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=1", f"decoders.feature_weight={value}"))
    assert not (tmp_path / "ckpt").exists()


def test_a_bad_init_setting_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="decoders.init.ridge=0 must be a positive number"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=1", "decoders.init.ridge=0"))
    with pytest.raises(ConfigError, match="decoders.init.images=-1 is not a whole number"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=1", "decoders.init.images=-1"))
    with pytest.raises(ConfigError, match=r"decoders.init.images=1000000 is not a whole number in \[0, 1024\]"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=1", "decoders.init.images=1000000"))
    with pytest.raises(ConfigError, match=r"decoders.levels=\[9, 9, .*\.\.\. must be") as e:
        train_decoders(cfg(tmp_path, "trainer.max_steps=1", f"decoders.levels=[{','.join(['9'] * 300)}]"))
    assert len(str(e.value)) < 200


def test_a_schedule_that_cannot_run_is_one_line_before_any_work(tmp_path):
    """OneCycleLR (the CPU recipe's) divided by zero for 10 steps; resuming past its total_steps failed hours in."""

    def cfg(tmp, *overrides):  # the recipe's scheduler, which TINY turns off
        tiny = [t for t in TINY if t != "module.scheduler=null"]
        return compose("decoders", [*tiny, f"paths.checkpoints={tmp / 'ckpt'}", f"paths.logs={tmp / 'logs'}", *overrides])

    with pytest.raises(ConfigError, match=r"module.scheduler divides by zero for trainer.max_steps=10.*pct_start"):
        train_decoders(cfg(tmp_path, "recipe=cpu", "trainer.max_steps=10"))
    assert not (tmp_path / "ckpt").exists()
    train_decoders(cfg(tmp_path, "recipe=cpu", "trainer.max_steps=20", "decoders.levels=[1]", "decoders.init.images=0",
                       "data.image_size=32"))
    with pytest.raises(ConfigError, match=r"was scheduled for 20 steps .* trainer.max_steps=40; resume with trainer.max_steps=20"):
        train_decoders(cfg(tmp_path, "recipe=cpu", "trainer.max_steps=40", "ckpt_path=last", "decoders.levels=[1]",
                           "decoders.init.images=0", "data.image_size=32"))


def test_the_cpu_recipe_leaves_relu5_1_to_the_gpu_recipe():
    # 128 px crops hold 8x8 relu5_1 positions: too few to fit that decoder (conf/recipe/cpu.yaml)
    assert list(compose("decoders", []).decoders.levels) == [1, 2, 3, 4]
    assert list(compose("decoders", ["recipe=gpu"]).decoders.levels) == [1, 2, 3, 4, 5]


def test_the_adain_cpu_recipe_is_the_cpu_recipe_on_relu4_1_alone_for_longer():
    base, adain = compose("decoders", []), compose("decoders", ["recipe=cpu_adain"])
    assert list(adain.decoders.levels) == [4] and adain.trainer.max_steps == 5 * base.trainer.max_steps
    assert adain.module.scheduler.total_steps == adain.trainer.max_steps  # the cosine spans the longer run
    assert adain.run_name == "universal_adain"  # does not overwrite the four-level checkpoint
    for key in ("data.image_size", "data.batch_size", "decoders.init.images", "module.optimizer.lr"):
        assert OmegaConf.select(adain, key) == OmegaConf.select(base, key)


def test_the_half_width_recipe_is_the_adain_recipe_at_half_width():
    adain, half = compose("decoders", ["recipe=cpu_adain"]), compose("decoders", ["recipe=cpu_adain_half"])
    assert half.decoders.width == 0.5 and half.decoders.distill is None and half.run_name == "universal_adain_half"
    for key in ("decoders.levels", "trainer.max_steps", "data.image_size", "data.batch_size", "module.optimizer.lr"):
        assert OmegaConf.select(half, key) == OmegaConf.select(adain, key)


def test_the_fit_draws_more_epochs_of_crops_from_few_photos_and_leaves_the_run_s_data_order_alone(tmp_path, caplog):
    steps = ["trainer.max_steps=3", "trainer.val_check_interval=3"]  # TINY: 4 training photos, so 4 crops an epoch
    with caplog.at_level("INFO", logger="stylenet.training.decoder_module"):
        train_decoders(cfg(tmp_path / "a", *steps, "decoders.init.images=10"))
    assert "least-squares initialisation on 10 crops" in caplog.text
    train_decoders(cfg(tmp_path / "b", *steps, "decoders.init.images=0"))

    def cursor(run):
        ckpt = torch.load(tmp_path / run / "ckpt" / "universal" / "last.ckpt", map_location="cpu", weights_only=True)
        (state,) = [v for k, v in ckpt.items() if "DataModule" in k]
        return state["progress"]

    assert cursor("a") == cursor("b") and cursor("a")["epoch"] == 1  # 3 steps of 2 photos: into epoch 1, as without the fit


def test_decoders_with_non_finite_weights_are_not_resumed(tmp_path):
    path = write_universal(tmp_path / "ckpt" / "universal" / "last.ckpt", levels=(1,))
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    name = next(iter(ckpt["state_dict"]))
    ckpt["state_dict"][name].view(-1)[0] = float("inf")
    torch.save(ckpt, path)
    with pytest.raises(ConfigError, match=r"holds non-finite weights .*: it is damaged; resume from an earlier step=N.ckpt"):
        train_decoders(cfg(tmp_path, "trainer.max_steps=2", "ckpt_path=last", "decoders.levels=[1]"))


def test_distillation_teaches_a_half_width_decoder_the_teachers_output_and_resumes_only_with_it(tmp_path):
    teacher = write_universal(tmp_path / "teacher.ckpt", levels=(4,), seed=1)
    run = [f"decoders.distill={teacher}", "decoders.levels=[4]", "decoders.width=0.5", "data.batch_size=3"]
    metrics, objs = train_decoders(cfg(tmp_path / "a", "trainer.max_steps=2", *run))
    assert {"train/level4/pixel", "train/level4/feature", "val/level4/psnr"} <= set(metrics)
    last = tmp_path / "a" / "ckpt" / "universal" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert ckpt["stylenet"]["train"]["distill"] == {"teacher": str(teacher)} and ckpt["stylenet"]["width"] == 0.5
    assert not any(k.startswith("teacher.") for k in ckpt["state_dict"])  # the teacher is never saved with the student
    _, objs2 = train_decoders(cfg(tmp_path / "a", "trainer.max_steps=3", "ckpt_path=last", *run))  # resumes, teacher restored
    assert objs2["trainer"].global_step == 3
    with pytest.raises(ConfigError, match="was trained from the teacher .* but this run has none"):
        train_decoders(cfg(tmp_path / "a", "trainer.max_steps=4", "ckpt_path=last", *run[1:]))


def test_the_distillation_loss_is_zero_for_the_teacher_itself_and_its_features_mix_the_batch():
    from stylenet.training.decoder_distill import distill_terms, mixed_features
    from stylenet.universal.decoder import Decoder
    from stylenet.universal.transforms import adain_batch

    torch.manual_seed(0)
    f = torch.rand(3, 512, 4, 4) * 10
    t = mixed_features(f, torch.Generator().manual_seed(0))
    alpha = torch.rand(3, 1, 1, 1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(t, torch.lerp(f, adain_batch(f, f.roll(1, 0)), alpha))  # each photo, the next one's statistics
    assert torch.equal(mixed_features(f[:1], torch.Generator()), f[:1])
    teacher, student = Decoder(4), Decoder(4, width=0.5)
    encode = lambda im: im.mean(1, keepdim=True)  # noqa: E731 - any encoder: the loss compares its outputs
    same = distill_terms(teacher, teacher, encode, t, feature_weight=1.0)
    assert same["total"].item() == 0.0
    other = distill_terms(student, teacher, encode, t, feature_weight=2.0)
    assert other["total"].item() == pytest.approx(other["pixel"].item() + 2 * other["feature"].item(), rel=1e-6) and other["pixel"] > 0


def test_a_teacher_that_cannot_teach_is_one_line_before_work(tmp_path):
    wct_only = write_universal(tmp_path / "wct.ckpt", levels=(1, 2))
    other_vgg = write_universal(tmp_path / "other.ckpt", levels=(4,), weights="embedded")
    for teacher, message in [(wct_only, r"has no decoder for level 4 \(relu4_1\)"), (tmp_path / "none.ckpt", "none.ckpt"),
                             (other_vgg, "a teacher must decode the same features")]:
        with pytest.raises(Exception, match=message) as e:
            train_decoders(cfg(tmp_path / "x", "trainer.max_steps=1", "decoders.levels=[4]", f"decoders.distill={teacher}"))
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"decoders.distill trains AdaIN's relu4_1 decoder alone"):
        train_decoders(cfg(tmp_path / "x", "trainer.max_steps=1", f"decoders.distill={wct_only}"))
    assert not (tmp_path / "x" / "ckpt").exists()
