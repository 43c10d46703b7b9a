"""train(cfg): a style network run (one style or several) from a composed Hydra config, through
:func:`stylenet.training.fit.fit`. train.py is a thin wrapper on it, and tests call it directly with small
overrides (lightning-hydra-template's layout). :class:`StyleRun` is what this kind of run adds to the
shared scaffolding: its checks, its resume rules and its module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from stylenet.config import instantiate, user_path
from stylenet.networks.checkpoint import META_KEY, CheckpointError, read_checkpoint
from stylenet.networks.transformer import network_shape
from stylenet.training.checks import check_restored_weights
from stylenet.training.fit import build_trainer, fit, resume_path
from stylenet.training.module import StyleTransferModule
from stylenet.training.preflight import check_config
from stylenet.training.spec import RunSpec
from stylenet.training.styles import check_resume_styles, start_from


def check_same_network(arch: dict[str, Any], model: DictConfig, path: Path) -> None:
    """A checkpoint resumes only into the network it holds: compare its architecture with ``model`` now,
    not as a size-mismatch traceback from Lightning after the data is set up. (Its styles are
    :func:`~stylenet.training.styles.check_resume_styles`'s to compare.)"""
    in_file, in_run = network_shape(arch), network_shape(model)
    differ = {k: (v, in_run[k]) for k, v in in_file.items() if in_run[k] != v}
    if differ:
        held = ", ".join(f"{k}={a}" for k, (a, _) in differ.items())
        asked = ", ".join(f"model.{k}={b}" for k, (_, b) in differ.items())
        keep = " ".join(f"model.{k}={a}" for k, (a, _) in differ.items())
        raise CheckpointError(
            f"{path} holds a network with {held}, but this run asks for {asked}; to resume it, add {keep}; to "
            "train the new size from scratch, give it its own folder: ckpt_path=null run_name=NEW_NAME"
        )


def build_module(cfg: DictConfig, spec: RunSpec) -> tuple[L.LightningDataModule, StyleTransferModule]:
    """The data module and the module of ``cfg``, whose styles, loss and crop size ``spec`` holds."""
    datamodule = instantiate(cfg.data, "data")
    net = instantiate(cfg.model, "model", num_styles=spec.num_styles)
    new_styles = start_from(net, user_path(cfg.init_from), spec.styles) if cfg.get("init_from") else None
    module = instantiate(cfg.module, "module")(
        net=net,
        loss=spec.loss,
        style=spec.style,
        image_size=spec.image_size,
        styles=spec.styles,
        first_new_style=new_styles[0] if new_styles else None,
    )
    return datamodule, module


@dataclass
class StyleRun:
    """A style network run (:class:`~stylenet.training.fit.Run`): conf/train.yaml."""

    cfg: DictConfig
    spec: RunSpec | None = field(default=None, repr=False)
    checked: bool = False  # train.py runs check_config before it imports Lightning, and says so here

    def check(self) -> None:
        if not self.checked:
            self.spec, self.checked = check_config(self.cfg), True

    def _spec(self) -> RunSpec:
        if self.spec is None:
            self.spec = RunSpec.from_cfg(self.cfg)
        return self.spec

    def check_resume(self, path: Path) -> None:
        """Clear error for missing, truncated, foreign files, other network sizes and other style lists."""
        ckpt = read_checkpoint(path)
        meta = ckpt[META_KEY]
        check_restored_weights(ckpt["state_dict"], path)
        check_same_network(meta["arch"], self.cfg.model, path)
        check_resume_styles(meta, self._spec().styles, path, OmegaConf.select(self.cfg, "style.name"))

    def build(self) -> tuple[L.LightningDataModule, StyleTransferModule]:
        return build_module(self.cfg, self._spec())


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``ckpt_path=last`` means this run's newest checkpoint (:func:`~stylenet.training.fit.newest_checkpoint`);
    any path must exist, be a stylenet checkpoint, and hold the network ``cfg.model`` describes."""
    return resume_path(StyleRun(cfg))


def build(cfg: DictConfig, check: bool = True) -> tuple[L.LightningDataModule, StyleTransferModule, L.Trainer]:
    """The data module, the module and the trainer of ``cfg`` (the benchmark times them); ``check=False`` skips
    :func:`check_config`. The trainer first: what it refuses (devices, strategy, precision) is refused before
    the loss network is loaded."""
    run = StyleRun(cfg)
    if check:
        run.check()
    trainer = build_trainer(cfg)
    datamodule, module = run.build()
    return datamodule, module, trainer


def train(cfg: DictConfig, checked: RunSpec | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit a style network. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"}).
    ``checked``: what :func:`check_config` returned for ``cfg``, when the caller ran it already."""
    return fit(StyleRun(cfg, spec=checked, checked=checked is not None))
