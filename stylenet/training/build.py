"""train(cfg): build everything from a composed Hydra config and fit. train.py is a thin wrapper on it,
and tests call it directly with small overrides (lightning-hydra-template's layout)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, OmegaConf

import stylenet.config  # noqa: F401  (registers the ${stylenet_root:} resolver)
from stylenet.data.images import open_image
from stylenet.errors import StylenetError
from stylenet.files import is_temporary
from stylenet.networks.checkpoint import AtomicCheckpointIO, read_checkpoint
from stylenet.training.module import StyleTransferModule

log = logging.getLogger(__name__)
# The VGG encoder is frozen in eval mode on purpose (VGGEncoder.train is a no-op).
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")


def instantiate(node, **kwargs):
    """hydra.utils.instantiate, but a user error raised by the target keeps its own one-line message
    (Hydra wraps it in an InstantiationException with the full target path)."""
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, StylenetError):
            raise e.__cause__ from None
        raise


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``ckpt_path=last`` means this run's ``last.ckpt``; any path must exist and be a stylenet checkpoint."""
    if cfg.ckpt_path in (None, ""):
        return None
    path = Path(cfg.checkpoint_dir) / "last.ckpt" if cfg.ckpt_path == "last" else Path(cfg.ckpt_path)
    read_checkpoint(path)  # clear error for missing, truncated, foreign files before the trainer starts
    return str(path)


def check_config(cfg: DictConfig) -> None:
    """Fail fast, with one line, on what would otherwise fail minutes into a run."""
    open_image(cfg.style.image)  # missing or unreadable style image → ImageError naming the file


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, StyleTransferModule, L.Trainer]:
    check_config(cfg)
    datamodule = instantiate(cfg.data)
    module = StyleTransferModule(
        net=instantiate(cfg.model),
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        style=OmegaConf.to_container(cfg.style, resolve=True),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        scheduler_interval=cfg.get("scheduler_interval", "step"),
        image_size=int(cfg.data.image_size),
        channels_last=bool(cfg.channels_last),
        compile=bool(cfg.compile),
        compile_loss=bool(cfg.get("compile_loss", False)),
        style_warmup_steps=int(cfg.get("style_warmup_steps") or 0),
    )
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()])
    return datamodule, module, trainer


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit a style network. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"})."""
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
    ckpt_path = resolve_ckpt_path(cfg)
    for stale in Path(cfg.checkpoint_dir).glob(".*"):  # left by a writer killed mid-save (atomic_path)
        if is_temporary(stale):
            stale.unlink(missing_ok=True)
    datamodule, module, trainer = build(cfg)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return metrics, {"trainer": trainer, "module": module, "datamodule": datamodule, "checkpoint_dir": cfg.checkpoint_dir}
