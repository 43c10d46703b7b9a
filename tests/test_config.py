"""Every option of every config group composes and instantiates (model, loss, data, callbacks, logger,
trainer), offline: random VGG weights, nothing fitted."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from stylenet.config import CONFIG_DIR, compose
from stylenet.networks.transformer import TransformerNet
from stylenet.training.build import build

GROUPS = ["style", "model", "loss", "data", "trainer", "callbacks", "logger", "experiment", "debug", "paths"]


# A file whose name starts with `_` is the shared base of its group's options (data/_base.yaml,
# style/_base.yaml), not an option.
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONFIG_DIR / g).glob("*.yaml")) if not p.stem.startswith("_")]
# Groups whose options are deltas on one base: each states only the keys where it differs from it.
BASES = {"trainer": "default", "data": "_base", "style": "_base"}
DELTAS = [(g, p.stem) for g in BASES for p in sorted((CONFIG_DIR / g).glob("*.yaml")) if p.stem != BASES[g]]


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)
    assert len([o for g, o in OPTIONS if g == "style"]) == 5


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates(tmp_path, group, option):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 30), (60 * i, 100, 200)).save(photos / f"{i}.jpg")
    overrides = [f"{group}={option}", "loss.weights=random", f"paths.checkpoints={tmp_path / 'ckpt'}",
                 f"paths.logs={tmp_path / 'logs'}", "data.num_workers=0"]
    if group == "data" and option != "sample":
        overrides.append(f"data.path={photos}")  # hf: a local folder is a valid `datasets` source too
    if (group, option) == ("experiment", "add_style"):  # adds a style to a trained multi-style network
        from helpers import MULTI, make_multi_checkpoint

        base = make_multi_checkpoint(tmp_path / "multi.ckpt")
        overrides += [f"init_from={base}", f"styles=[{','.join(MULTI)},shipwreck]", "model.base_channels=8",
                      "model.num_residual_blocks=1"]
    if (group, option) == ("experiment", "video_finetune"):  # fine-tunes checkpoints/<style>/last.ckpt
        from helpers import make_checkpoint

        (tmp_path / "ckpt" / "wave").mkdir(parents=True)
        make_checkpoint(tmp_path / "ckpt" / "wave" / "last.ckpt", photos / "0.jpg")
        overrides += ["model.base_channels=8", "model.num_residual_blocks=1"]
    if group == "trainer" and option != "cpu":
        # CI has no GPU: the option composes as written, then is built on the CPU (DDP with 2 processes).
        cfg = compose("train", overrides)
        assert cfg.trainer.accelerator in ("gpu", "auto")
        overrides += ["trainer.accelerator=cpu", "trainer.precision=32-true"]
        if option == "ddp":
            overrides.append("trainer.devices=2")
    cfg = compose("train", overrides)
    datamodule, module, trainer = build(cfg)
    assert isinstance(module.net, TransformerNet)
    assert module.loss.style_layers and module.loss.content_layers
    assert trainer.max_steps == cfg.trainer.max_steps
    if group == "style":
        assert Path(cfg.style.image).is_file() and cfg.style.name == option
    # The loss is complete: one forward on a tiny batch gives finite named terms.
    module.setup("fit")
    x = torch.rand(1, 3, 32, 32)
    index = module.choose_styles(1)  # a multi-style network (add_style): a style per sample
    terms = module.loss(module.net(x), x, style_index=index)
    assert set(terms) == {"content", "style", "tv", "total"} and torch.isfinite(terms["total"])


@pytest.mark.parametrize("native, precision", [(True, "bf16-mixed"), (False, "32-true")])
def test_the_standard_recipe_uses_bf16_only_where_the_device_computes_it(monkeypatch, native, precision):
    seen = []
    monkeypatch.setattr("stylenet.runtime.native_half", lambda device, dtype: seen.append((device.type, dtype)) or native)
    cfg = compose("train", ["experiment=standard", "trainer.accelerator=cpu"])
    assert cfg.trainer.precision == precision and seen == [("cpu", torch.bfloat16)]


@pytest.mark.parametrize("group,option", DELTAS, ids=[f"{g}={o}" for g, o in DELTAS])
def test_options_are_deltas_on_their_base(group, option):
    """trainer/cpu.yaml etc. extend their group's base and set exactly the keys where they differ from it:
    a key restated with the base's value, or a difference the file does not state, fails."""
    own = OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml")
    assert list(own.get("defaults", [])) == [BASES[group], "_self_"], f"{group}/{option}.yaml must extend {BASES[group]}"
    stated = set(own) - {"defaults"}
    base = OmegaConf.to_container(compose("train", [f"{group}={BASES[group]}"])[group], resolve=False)
    composed = OmegaConf.to_container(compose("train", [f"{group}={option}"])[group], resolve=False)
    assert set(base) <= set(composed)
    differ = {k for k in set(base) | set(composed) if k not in base or base[k] != composed[k]}
    assert differ == stated


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=1e-4", "there is no key optimizer.lr any more: it moved to module.optimizer.lr"),
    ("compile=true", "it moved to module.compile"),
    ("style_warmup_steps=10", "it moved to module.style_warmup_steps"),
    ("style=nope", "Could not find 'style/nope'; choose one of: shipwreck, starry_night, the_scream, udnie, wave"),
    ("logger=null", "to switch a config group off, delete it with ~GROUP (e.g. ~logger)"),
])
def test_composition_errors_are_one_line_that_says_what_to_write(override, message):
    from stylenet.config import ConfigError, check_composes

    with pytest.raises(ConfigError) as e:
        check_composes("train", [override])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_moved_key_added_with_plus_is_refused_not_ignored(tmp_path):
    from stylenet.config import ConfigError
    from stylenet.training.preflight import check_config

    cfg = compose("train", ["+optimizer.fused=true", f"paths.checkpoints={tmp_path}", f"paths.logs={tmp_path}"])
    with pytest.raises(ConfigError, match="optimizer moved under module:"):
        check_config(cfg)


def _help(*command: str) -> str:
    import subprocess
    import sys

    from conftest import ROOT

    r = subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.split("== Config ==")[0]


def test_train_help_lists_only_the_groups_and_options_a_training_run_uses():
    from stylenet.config import command_groups

    groups = _help("train.py")
    lines = dict(line.split(": ", 1) for line in groups.split("(group=option)")[1].splitlines() if ": " in line)
    assert set(lines) == {"callbacks", "data", "debug", "experiment", "hparams_search", "logger", "loss", "model", "paths", "style", "trainer"}
    assert lines["hparams_search"] == "style_weight, style_weight_grid"  # not _base
    assert "recipe" not in groups and "decoders" not in lines["callbacks"] and "_base" not in groups and "hydra/" not in groups
    assert "with_teacher" in lines["callbacks"] and "quick" in lines["experiment"]
    # the decoders' own help has their recipes and their callbacks, not the style network's
    decoders = command_groups("decoders")
    assert "recipe: cpu, cpu_adain, cpu_adain_half, cpu_adain_style, gpu" in decoders and "callbacks: decoders" in decoders.splitlines()
    assert "paths: default" in command_groups("quality").splitlines()
    assert "loss:" in command_groups("bench")  # bench extends train's config: the same groups


def test_every_command_config_uses_the_help_that_names_its_own_groups():
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        defaults = [str(d) for d in OmegaConf.load(path).get("defaults") or []]
        assert any("hydra/help" in d for d in defaults) or "train" in defaults, f"{path.name}: add `- override hydra/help: stylenet`"


def test_without_the_search_extra_hparams_search_says_what_to_install():
    from hydra.errors import MissingConfigException

    from stylenet.config import compose_error

    # What Hydra raises for the override in conf/hparams_search/_base.yaml when the plugin is not installed.
    e = MissingConfigException("In 'hparams_search/_base': Could not load 'hydra/sweeper/optuna'.\n\nConfig search path:\n\t...")
    assert compose_error(e) == "hparams_search needs Hydra's Optuna sweeper, which is not installed: pip install -e '.[search]'"
