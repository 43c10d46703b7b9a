"""train_decoders(cfg): the decoder run from a composed conf/decoders.yaml, the way
:func:`stylenet.training.build.train` builds a style run (its checks and checkpoint rules are reused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from stylenet.config import ConfigError, instantiate
from stylenet.files import check_writable_dir, remove_stale_temporaries
from stylenet.networks.checkpoint import META_KEY, load_file
from stylenet.training.build import (
    _whole,
    build_trainer,
    check_accelerator,
    check_optimizer,
    check_steps,
    newest_checkpoint,
    output_folders,
)
from stylenet.universal.checkpoint import UniversalMeta, train_command
from stylenet.universal.decoder import LEVELS
from stylenet.universal.module import DecoderModule


def levels_of(cfg: DictConfig) -> list[int]:
    levels = OmegaConf.to_container(cfg.decoders.levels, resolve=True) if OmegaConf.is_config(cfg.decoders.levels) else cfg.decoders.levels
    levels = [levels] if isinstance(levels, int) else levels
    if (not isinstance(levels, list) or not levels
            or any(isinstance(k, bool) or not isinstance(k, int) or k not in LEVELS for k in levels)):
        raise ConfigError(f"decoders.levels={levels!r} must be a list of levels from {list(LEVELS)}, e.g. decoders.levels=[1,2,3,4,5]")
    return sorted(set(levels))


def check_decoder_config(cfg: DictConfig) -> None:
    """Fail fast, with one line, on what would otherwise fail minutes into the run."""
    levels_of(cfg)
    _whole(cfg, "data.image_size", min(2 ** max(levels_of(cfg)), 2 ** 10), example=128)  # relu{k}_1 needs 2^k px (decoder.min_side)
    _whole(cfg, "data.batch_size", 1, example=4)
    _whole(cfg, "decoders.init.images", 0, example=64)
    ridge = OmegaConf.select(cfg, "decoders.init.ridge")
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not ridge > 0:
        raise ConfigError(f"decoders.init.ridge={cfg.decoders.init.ridge} must be a positive number, e.g. decoders.init.ridge=1e-4")
    if cfg.trainer.get("gradient_clip_val"):
        raise ConfigError("trainer.gradient_clip_val is not supported by the decoder training (manual optimisation); set it to null")
    check_steps(cfg.trainer)
    check_accelerator(cfg.trainer)
    check_optimizer(cfg)
    for key, folder in output_folders(cfg).items():
        check_writable_dir(folder, f"folder of {key}", "set paths.checkpoints / paths.logs to a folder you can write")


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``ckpt_path=last`` means this run's newest checkpoint; it must be a universal file with these levels."""
    if cfg.ckpt_path in (None, ""):
        return None
    path = newest_checkpoint(Path(cfg.checkpoint_dir)) if cfg.ckpt_path == "last" else Path(cfg.ckpt_path)
    meta = UniversalMeta.from_dict(load_file(path)[META_KEY], str(path))
    if list(meta.levels) != levels_of(cfg):
        raise ConfigError(f"{path} holds levels {list(meta.levels)} but this run trains {levels_of(cfg)}; resume with "
                          f"decoders.levels=[{','.join(map(str, meta.levels))}], or train the others in their own folder: "
                          f"{train_command(levels_of(cfg))} run_name=NEW_NAME")
    return str(path)


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, DecoderModule, L.Trainer]:
    trainer = build_trainer(cfg)
    datamodule = instantiate(cfg.data, "data")
    module = instantiate(cfg.module, "module")(
        levels=levels_of(cfg),
        encoder=OmegaConf.to_container(cfg.decoders.encoder, resolve=True),
        feature_weight=float(cfg.decoders.feature_weight),
        normalize_features=bool(cfg.decoders.get("normalize_features", True)),
        image_size=int(cfg.data.image_size),
        init_images=int(cfg.decoders.init.images or 0),
        init_ridge=float(cfg.decoders.init.ridge),
    )
    return datamodule, module, trainer


def train_decoders(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit the decoders. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"})."""
    check_decoder_config(cfg)
    ckpt_path = resolve_ckpt_path(cfg)
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
    remove_stale_temporaries(cfg.checkpoint_dir, older_than=0)
    datamodule, module, trainer = build(cfg)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return metrics, {"trainer": trainer, "module": module, "datamodule": datamodule, "checkpoint_dir": cfg.checkpoint_dir}
