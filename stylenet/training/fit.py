"""fit(run): the one way a training runs, whatever it trains (a style network, several styles, the universal
decoders, the next kind). The scaffolding lives here once: checks before any work, resume (``ckpt_path``,
the newest checkpoint), seeding, the trainer with its callbacks and loggers, atomic checkpoint writes.

A kind of run is a :class:`Run`: a config (``conf/<command>.yaml``, whose ``callbacks``/``logger`` nodes
this module builds) and a small object that checks it, checks a checkpoint it would resume from, and
builds its data module and LightningModule (training/build.py: :class:`~stylenet.training.build.StyleRun`;
training/decoders.py: :class:`~stylenet.training.decoders.DecoderRun`). User errors are
:class:`~stylenet.errors.StylenetError` lines; the command's ``hydra_command`` prints them.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any, Protocol

import lightning as L
import torch
from lightning.pytorch.callbacks import DeviceStatsMonitor, LearningRateMonitor
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf

from stylenet.config import instantiate
from stylenet.files import ROOT, remove_stale_temporaries
from stylenet.inference.save_pretrained import save_pretrained
from stylenet.networks.checkpoint import META_KEY, atomic_save
from stylenet.runtime import device_name
from stylenet.training.checks import STEP_CKPT, check_no_finished_run, check_resume_schedule
from stylenet.zoo import SHIPPED_PHOTOS

log = logging.getLogger(__name__)
# The VGG encoder is frozen in eval mode on purpose (VGGEncoder.train is a no-op).
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")

# Callbacks Lightning refuses to run without a logger (`~logger`): dropped, with a line saying so.
NEEDS_LOGGER = (LearningRateMonitor, DeviceStatsMonitor)
PRETRAINED_DIR = "pretrained"  # beside last.ckpt: the run's network as a pretrained folder (save_pretrained)


class Run(Protocol):
    """One kind of training: its composed config and the three things only it knows."""

    cfg: DictConfig

    def check(self) -> None:
        """Refuse, with one line, what would fail minutes into the run (training/checks.py has the shared checks)."""

    def check_resume(self, path: Path) -> None:
        """Refuse a checkpoint this run cannot resume (foreign, truncated, another network)."""

    def build(self) -> tuple[L.LightningDataModule, L.LightningModule]:
        """The data module and the module; called after the trainer is built."""


def newest_checkpoint(folder: Path) -> Path:
    """``last.ckpt``, or else the ``step=N.ckpt`` with the highest N (a run killed between writing its first
    step=N.ckpt and last.ckpt has only those); ``last.ckpt`` (missing) when there is neither."""
    last = folder / "last.ckpt"
    if last.exists() or not folder.is_dir():
        return last
    steps = [(int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_CKPT.fullmatch(p.name))]
    if not steps:
        return last
    path = max(steps)[1]
    log.info("ckpt_path=last: no %s, resuming from the newest periodic checkpoint %s", last, path)
    return path


def resume_path(run: Run) -> str | None:
    """``ckpt_path=last`` means this run's newest checkpoint (:func:`newest_checkpoint`); any path must be
    one ``run`` can resume."""
    cfg = run.cfg
    if cfg.ckpt_path in (None, ""):
        return None
    path = newest_checkpoint(Path(cfg.checkpoint_dir)) if cfg.ckpt_path == "last" else Path(cfg.ckpt_path)
    run.check_resume(path)
    check_resume_schedule(cfg, torch.load(path, map_location="cpu", weights_only=True, mmap=True), path)
    return str(path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic (Lightning writes the target file in place)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_save(checkpoint, path)


def build_trainer(cfg: DictConfig) -> L.Trainer:
    """The trainer of ``cfg`` with its callbacks and loggers (those that need a logger dropped when there is
    none) and atomic checkpoint writes."""
    callbacks = [instantiate(c, f"callbacks.{k}") for k, c in (cfg.get("callbacks") or {}).items() if c is not None]
    loggers = [instantiate(c, f"logger.{k}") for k, c in (cfg.get("logger") or {}).items() if c is not None]
    if not loggers and (dropped := [c for c in callbacks if isinstance(c, NEEDS_LOGGER)]):
        log.info("no logger: running without %s (it needs one)", ", ".join(type(c).__name__ for c in dropped))
        callbacks = [c for c in callbacks if c not in dropped]
    return instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()])


def fit(run: Run) -> tuple[dict[str, float], dict[str, Any]]:
    """Check, then train ``run``. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"}).
    Everything a run can be refused for is refused before any data, weights or files are touched; the trainer
    is built before the module, so what it refuses (devices, strategy, precision) is refused before the loss
    network is loaded."""
    cfg = run.cfg
    run.check()
    check_no_finished_run(cfg)
    ckpt_path = resume_path(run)
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
    remove_stale_temporaries(cfg.checkpoint_dir, older_than=0)  # left by a run killed mid-save; this run owns the folder
    trainer = build_trainer(cfg)
    datamodule, module = run.build()
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    if trainer.is_global_zero:
        write_pretrained(cfg, time.perf_counter() - start)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return metrics, {"trainer": trainer, "module": module, "datamodule": datamodule, "checkpoint_dir": cfg.checkpoint_dir}


def hardware() -> str:
    """What a model card says a run trained on: the device Lightning's ``accelerator: auto`` picks, in words."""
    return device_name(torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def run_card(cfg: DictConfig, seconds: float) -> dict[str, Any]:
    """What the model card can say about this run: the command, photos, time and hardware."""
    card: dict[str, Any] = {"time": f"{seconds / 60:.1f} min (this run{', resumed' if cfg.get('ckpt_path') else ''})",
                            "hardware": hardware()}
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        command = "python train.py" if hc.job.config_name == "train" else f"python -m stylenet {hc.job.config_name}"
        card["command"] = f"{command} {' '.join(hc.overrides.task)}".strip()
    except (ValueError, ImportError):  # called as a function (tests, notebooks): no command line
        pass
    data = cfg.get("data") or {}
    path = str(data.get("path", ""))
    card["photos"] = SHIPPED_PHOTOS if Path(path).resolve() == (ROOT / "assets" / "sample").resolve() else f"{data.get('source')}: {path}"
    return card


def write_pretrained(cfg: DictConfig, seconds: float) -> Path | None:
    """The run's last.ckpt as a pretrained folder beside it (``<checkpoint_dir>/pretrained``: safetensors,
    config.json, model card), for every kind of run whose checkpoint holds a stylenet network; None otherwise."""
    last = Path(cfg.checkpoint_dir) / "last.ckpt"
    if not last.is_file():
        return None
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or META_KEY not in ckpt:  # a kind of run that trains no stylenet network
        return None
    folder = save_pretrained(ckpt, last.parent / PRETRAINED_DIR, card=run_card(cfg, seconds))
    log.info("the trained network as a pretrained folder: %s", folder)
    return folder
