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

from stylenet.config import ConfigError, check_moved_keys, instantiate, user_path
from stylenet.data.images import open_image
from stylenet.networks.checkpoint import MAX_BASE_CHANNELS, MAX_RESIDUAL_BLOCKS, META_KEY, CheckpointError, read_checkpoint
from stylenet.networks.meta import MAX_PAINTING_SIDE, MAX_RESIDUAL_CHANNELS
from stylenet.networks.transformer import STEMS, network_shape
from stylenet.training.checks import (
    check_accelerator,
    check_optimizer,
    check_output_folders,
    check_restored_weights,
    check_steps,
    whole,
)
from stylenet.training.fit import build_trainer, fit, resume_path
from stylenet.training.module import StyleTransferModule
from stylenet.training.spec import RunSpec
from stylenet.training.styles import check_resume_styles, start_from
from stylenet.training.temporal import TemporalConfig


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


def check_config(cfg: DictConfig) -> RunSpec:
    """Fail fast, with one line, on what would otherwise fail minutes into a run (or, worse, after it).
    Returns the run's :class:`RunSpec`, read on the way."""
    check_moved_keys(cfg)  # `+optimizer.fused=true` composes, and would be ignored
    # read_checkpoint's bounds: a bigger network would train, then never load.
    whole(cfg, "model.base_channels", 1, MAX_BASE_CHANNELS, example=32)
    whole(cfg, "model.num_residual_blocks", 0, MAX_RESIDUAL_BLOCKS, example=5)
    if cfg.model.get("residual_channels") is not None:
        whole(cfg, "model.residual_channels", 1, MAX_RESIDUAL_CHANNELS, example=48)
    if cfg.model.get("stem", "full") not in STEMS:
        raise ConfigError(f"model.stem={cfg.model.stem!r} is not one of {', '.join(STEMS)}; e.g. model=fast")
    whole(cfg, "data.image_size", 1, example=256)  # the ranges of the data keys are the data module's to check
    whole(cfg, "data.batch_size", 1, example=4)
    whole(cfg, "module.style_warmup_steps", 0, example=150)  # a negative ramp used to be taken as none
    check_steps(cfg.trainer)
    check_accelerator(cfg.trainer)
    check_optimizer(cfg)
    TemporalConfig(**OmegaConf.to_container(cfg.module.get("temporal") or {}, resolve=True))  # bad weights: one line now
    check_output_folders(cfg)
    spec = RunSpec.from_cfg(cfg)  # styles=[...]: unknown names, duplicates → one line now
    for style in spec.paintings:
        size = style.get("size")  # the painting is loaded at this long side: 100000 px would allocate without limit
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= MAX_PAINTING_SIDE):
            raise ConfigError(f"style.size={size!r} ({style.get('name')}) must be a number of pixels from 16 to "
                              f"{MAX_PAINTING_SIDE}, or null for the painting's own size; e.g. style.size=512")
        open_image(style["image"])  # missing or unreadable style image → ImageError naming the file
    if spec.styles and any("TeacherScore" in str(c.get("_target_", "")) for c in (cfg.get("callbacks") or {}).values() if c is not None):
        raise ConfigError("the teacher callback scores one-style networks; drop callbacks=with_teacher and score each style "
                          "after training: python -m stylenet evaluate ckpt=... style_name=NAME photos=DIR")
    if cfg.get("init_from") and not user_path(cfg.init_from).is_file():
        raise ConfigError(f"init_from={cfg.init_from}: no such checkpoint; train the network to start from first (for "
                          f"experiment=video_finetune: python train.py experiment=quick style={OmegaConf.select(cfg, 'style.name')}"
                          "), or give init_from=PATH")
    return spec


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

    def check(self) -> None:
        self.spec = check_config(self.cfg)

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


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit a style network. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"})."""
    return fit(StyleRun(cfg))
