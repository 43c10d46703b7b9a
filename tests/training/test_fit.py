"""fit(run) (stylenet/training/fit.py): the scaffolding every kind of run shares. A new kind of run is a small
object with check(), check_resume() and build(); fit() does the rest, in the order that refuses before work."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import tiny_cfg
from omegaconf import open_dict

from stylenet.config import ConfigError, instantiate
from stylenet.training.fit import fit
from stylenet.training.module import batch_images


class Mean(L.LightningModule):
    """The smallest module that trains: one weight fitted to the photos' mean."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        loss = (batch_images(batch).mean() - self.w).pow(2).sum()
        self.log("train/total", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class MeanRun:
    """A kind of run that is only a module and a config: it records what fit() asked of it."""

    def __init__(self, cfg, refuse_resume: bool = False):
        self.cfg, self.refuse_resume, self.calls = cfg, refuse_resume, []

    def check(self) -> None:
        self.calls.append("check")

    def check_resume(self, path: Path) -> None:
        self.calls.append(f"check_resume {path.name}")
        if self.refuse_resume:
            raise ConfigError(f"{path} is not this run's")

    def build(self):
        self.calls.append("build")
        return instantiate(self.cfg.data, "data"), Mean()


def mean_cfg(tmp_path, *overrides):
    cfg = tiny_cfg(tmp_path, "trainer.limit_val_batches=0", *overrides)
    with open_dict(cfg):
        cfg.callbacks, cfg.logger = {}, {}  # the style run's callbacks draw its samples
    return cfg


def test_a_new_kind_of_run_trains_through_fit_checked_before_it_is_built(tmp_path):
    run = MeanRun(mean_cfg(tmp_path))
    metrics, out = fit(run)
    assert run.calls == ["check", "build"]
    assert out["trainer"].global_step == 5 and "train/total" in metrics  # debug=default: 5 steps
    assert out["module"].w.item() != 0


def test_fit_resumes_from_the_newest_checkpoint_only_if_the_run_accepts_it(tmp_path):
    folder = tmp_path / "ckpt" / "wave"
    folder.mkdir(parents=True)
    (folder / "step=2.ckpt").write_bytes(b"")
    (folder / "step=10.ckpt").write_bytes(b"")  # no last.ckpt: the highest step, not the last name as text
    run = MeanRun(mean_cfg(tmp_path, "ckpt_path=last"), refuse_resume=True)
    with pytest.raises(ConfigError, match="step=10.ckpt is not this run's"):
        fit(run)
    assert run.calls == ["check", "check_resume step=10.ckpt"]  # refused before anything was built


def test_every_run_ends_with_a_pretrained_folder_beside_last_ckpt(tmp_path):
    """A style network and the universal decoders each end with <checkpoint_dir>/pretrained (safetensors, config,
    card) that stylises as last.ckpt does; a run whose checkpoint holds no stylenet network writes none."""
    from test_decoders import cfg as decoders_cfg

    from stylenet.inference.stylizer import Stylizer
    from stylenet.networks.checkpoint import load_file
    from stylenet.training.build import train
    from stylenet.training.decoders import train_decoders

    _, out = train(tiny_cfg(tmp_path / "style"))
    folder = Path(out["checkpoint_dir"]) / "pretrained"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    card = (folder / "README.md").read_text()
    assert "library_name: stylenet" in card and "Hardware: " in card and "Steps: 5" in card
    x = torch.rand(1, 3, 24, 28)
    a = Stylizer.from_checkpoint(Path(out["checkpoint_dir"]) / "last.ckpt", device="cpu", backend="torch")(x)
    assert torch.equal(Stylizer.from_pretrained(folder, device="cpu", backend="torch")(x), a)

    _, out = train_decoders(decoders_cfg(tmp_path / "dec", "trainer.max_steps=2"))
    folder = Path(out["checkpoint_dir"]) / "pretrained"
    assert load_file(folder)["stylenet"]["levels"] == [1, 2]

    run = MeanRun(mean_cfg(tmp_path / "mean"))
    with open_dict(run.cfg):
        run.cfg.callbacks = {"ckpt": {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "dirpath": run.cfg.checkpoint_dir,
                                      "save_last": True}}
    fit(run)
    assert (Path(run.cfg.checkpoint_dir) / "last.ckpt").exists() and not (Path(run.cfg.checkpoint_dir) / "pretrained").exists()


def test_the_model_card_names_the_command_line_of_a_hydra_run(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from hydra.core.hydra_config import HydraConfig

    from stylenet.training.fit import run_card

    hc = SimpleNamespace(job=SimpleNamespace(config_name="train"), overrides=SimpleNamespace(task=["experiment=quick", "style=udnie"]))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: hc))
    card = run_card(tiny_cfg(tmp_path, "data=sample"), 90.0)
    assert card["command"] == "python train.py experiment=quick style=udnie" and card["time"].startswith("1.5 min")
    assert "public domain" in card["photos"]


def test_a_new_run_never_replaces_a_finished_one_in_its_folder(tmp_path):
    """A two-step sweep once overwrote a finished 600-step network: a new run into a folder that holds a run is
    refused in one line, before anything is built, and the network is left as it was."""
    first = MeanRun(mean_cfg(tmp_path, "callbacks.model_checkpoint.every_n_train_steps=2"))
    with open_dict(first.cfg):
        first.cfg.callbacks = {"ckpt": {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "dirpath": first.cfg.checkpoint_dir,
                                        "save_last": True}}
    fit(first)
    last = Path(first.cfg.checkpoint_dir) / "last.ckpt"
    before = last.read_bytes()
    again = MeanRun(mean_cfg(tmp_path))
    with pytest.raises(ConfigError, match=r"already holds a run \(last.ckpt\): resume it with ckpt_path=last, .*run_name="):
        fit(again)
    assert again.calls == ["check"] and last.read_bytes() == before
    fit(MeanRun(mean_cfg(tmp_path, "run_name=wave-2")))  # beside it: fine
    folder = tmp_path / "ckpt" / "killed"
    folder.mkdir()
    (folder / "step=4.ckpt").write_bytes(b"")  # a run killed before its first last.ckpt counts too
    with pytest.raises(ConfigError, match=r"already holds a run \(step=4.ckpt\)"):
        fit(MeanRun(mean_cfg(tmp_path, "run_name=killed")))
