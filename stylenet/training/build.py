"""train(cfg): build everything from a composed Hydra config and fit. train.py is a thin wrapper on it,
and tests call it directly with small overrides (lightning-hydra-template's layout)."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import DeviceStatsMonitor, LearningRateMonitor
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf

from stylenet.config import MOVED_TO_MODULE, ConfigError, instantiate, user_path
from stylenet.data.images import open_image
from stylenet.errors import first_line
from stylenet.files import check_writable_dir, remove_stale_temporaries
from stylenet.networks.checkpoint import (
    MAX_BASE_CHANNELS,
    MAX_RESIDUAL_BLOCKS,
    META_KEY,
    CheckpointError,
    atomic_save,
    read_checkpoint,
)
from stylenet.training.module import StyleTransferModule
from stylenet.training.styles import check_resume_styles, extend_network, resolve_styles
from stylenet.training.temporal import TemporalConfig

log = logging.getLogger(__name__)
# The VGG encoder is frozen in eval mode on purpose (VGGEncoder.train is a no-op).
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")

# Callbacks Lightning refuses to run without a logger (`~logger`): dropped, with a line saying so.
NEEDS_LOGGER = (LearningRateMonitor, DeviceStatsMonitor)
STEP_CKPT = re.compile(r"step=(\d+)\.ckpt")


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


def check_same_network(arch: dict[str, Any], model: DictConfig, path: Path) -> None:
    """A checkpoint resumes only into the network it holds: compare its architecture with ``model`` now,
    not as a size-mismatch traceback from Lightning after the data is set up."""
    differ = {k: (v, model[k]) for k, v in arch.items() if k != "name" and k in model and model[k] != v}
    if differ:
        held = ", ".join(f"{k}={a}" for k, (a, _) in differ.items())
        asked = ", ".join(f"model.{k}={b}" for k, (_, b) in differ.items())
        keep = " ".join(f"model.{k}={a}" for k, (a, _) in differ.items())
        raise CheckpointError(
            f"{path} holds a network with {held}, but this run asks for {asked}; to resume it, add {keep}; to "
            "train the new size from scratch, give it its own folder: ckpt_path=null run_name=NEW_NAME"
        )


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """``ckpt_path=last`` means this run's newest checkpoint (:func:`newest_checkpoint`); any path must exist,
    be a stylenet checkpoint, and hold the network ``cfg.model`` describes."""
    if cfg.ckpt_path in (None, ""):
        return None
    path = newest_checkpoint(Path(cfg.checkpoint_dir)) if cfg.ckpt_path == "last" else Path(cfg.ckpt_path)
    # Clear error for missing, truncated, foreign files and other network sizes before the trainer starts.
    meta = read_checkpoint(path)[META_KEY]
    check_same_network(meta["arch"], cfg.model, path)
    check_resume_styles(meta, resolve_styles(cfg), path)
    return str(path)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(cfg: DictConfig, key: str, low: int, high: int | None = None, *, example: int) -> None:
    value = OmegaConf.select(cfg, key)
    if not (_is_int(value) and low <= value and (high is None or value <= high)):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{key}={value!r} is not a whole number {bounds}; give one, e.g. {key}={example}")


def check_steps(trainer: DictConfig) -> None:
    """The step budget, by Lightning's rules (max_steps >= 0 or -1, max_epochs >= 0 or -1/None), except that a
    budget of 0 (a run that exits 0 having trained and written nothing) is refused. -1 and -1 is Lightning's
    "until stopped": allowed, and said."""
    steps, epochs = trainer.get("max_steps", -1), trainer.get("max_epochs")
    advice = "give trainer.max_steps >= 1 (e.g. 40000), or -1 with trainer.max_epochs >= 1 to budget in epochs"
    if not (_is_int(steps) and (steps >= 1 or steps == -1)):
        raise ConfigError(f"trainer.max_steps={steps!r} {'would train nothing' if steps == 0 else 'is not a step budget'}; {advice}")
    if not (epochs is None or (_is_int(epochs) and (epochs >= 1 or epochs == -1))):
        raise ConfigError(f"trainer.max_epochs={epochs!r} {'would train nothing' if epochs == 0 else 'is not an epoch budget'}; "
                          "give -1 (the budget is trainer.max_steps) or a number of epochs >= 1")
    if steps == -1 and epochs in (None, -1):
        log.warning("trainer.max_steps=-1 and trainer.max_epochs=%s: no budget, training until stopped "
                    "(Ctrl-C; resume with ckpt_path=last)", epochs)


def check_accelerator(trainer: DictConfig) -> None:
    """``trainer=gpu`` on a machine without one: Lightning's refusal is several lines and comes after the
    loss network is loaded."""
    accelerator = str(trainer.get("accelerator", "auto"))
    mps = accelerator == "gpu" and torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not (torch.cuda.is_available() or mps):
        raise ConfigError(f"trainer.accelerator={accelerator} but no GPU is visible (torch.cuda.is_available() is False); "
                          "train on the CPU with trainer=cpu, or check the driver and CUDA_VISIBLE_DEVICES")


def check_optimizer(cfg: DictConfig) -> None:
    """Build the optimiser (and scheduler) on a throwaway parameter: ``module.optimizer.lr=-1`` otherwise fails in
    configure_optimizers, after the data is set up."""
    param = torch.nn.Parameter(torch.zeros(1))
    try:
        optimizer = instantiate(cfg.module.optimizer, "module.optimizer")(params=[param])
    except (ValueError, TypeError) as e:
        raise ConfigError(f"module.optimizer: {first_line(e)}; fix module.optimizer.* (e.g. module.optimizer.lr=1e-3)") from None
    if cfg.module.get("scheduler"):
        try:
            instantiate(cfg.module.scheduler, "module.scheduler")(optimizer=optimizer)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"module.scheduler: {first_line(e)}; fix module.scheduler.*") from None


def output_folders(cfg: DictConfig) -> dict[str, str]:
    """Every folder a run writes to, by config key: checkpoint and sample folders, logger folders, the
    data module's log folder."""
    folders = {f"callbacks.{name}.dirpath": c.dirpath for name, c in (cfg.get("callbacks") or {}).items()
               if c is not None and c.get("dirpath")}
    folders |= {f"logger.{name}.save_dir": c.save_dir for name, c in (cfg.get("logger") or {}).items()
                if c is not None and c.get("save_dir")}
    if cfg.data.get("log_dir"):
        folders["data.log_dir"] = cfg.data.log_dir
    return folders


def check_config(cfg: DictConfig) -> None:
    """Fail fast, with one line, on what would otherwise fail minutes into a run (or, worse, after it)."""
    if stale := [k for k in MOVED_TO_MODULE if k in cfg]:  # `+optimizer.fused=true` composes, and would be ignored
        raise ConfigError(f"{', '.join(stale)} moved under module: (e.g. module.{stale[0]}); the top-level key is not read")
    # read_checkpoint's bounds: a bigger network would train, then never load.
    _whole(cfg, "model.base_channels", 1, MAX_BASE_CHANNELS, example=32)
    _whole(cfg, "model.num_residual_blocks", 0, MAX_RESIDUAL_BLOCKS, example=5)
    _whole(cfg, "data.image_size", 1, example=256)  # the ranges of the data keys are the data module's to check
    _whole(cfg, "data.batch_size", 1, example=4)
    check_steps(cfg.trainer)
    check_accelerator(cfg.trainer)
    check_optimizer(cfg)
    TemporalConfig(**OmegaConf.to_container(cfg.module.get("temporal") or {}, resolve=True))  # bad weights: one line now
    roots = {"paths.checkpoints": OmegaConf.select(cfg, "paths.checkpoints"), "paths.logs": OmegaConf.select(cfg, "paths.logs")}
    for key, folder in output_folders(cfg).items():
        # Name the key the user sets (paths.checkpoints), not the one it flows into.
        hint = next((k for k, root in roots.items() if root and str(folder).startswith(str(root))), None)
        check_writable_dir(folder, f"folder of {key}", f"set {hint or key} to a folder you can write")
    styles = resolve_styles(cfg)  # styles=[...]: unknown names, duplicates → one line now
    for style in styles or [OmegaConf.to_container(cfg.style, resolve=True)]:
        open_image(style["image"])  # missing or unreadable style image → ImageError naming the file
    if styles and any("TeacherScore" in str(c.get("_target_", "")) for c in (cfg.get("callbacks") or {}).values() if c is not None):
        raise ConfigError("the teacher callback scores one-style networks; drop callbacks=with_teacher and score each style "
                          "after training: python -m stylenet evaluate ckpt=... style_name=NAME photos=DIR")
    if cfg.get("init_from") and not styles:
        raise ConfigError("init_from= adds styles to a trained multi-style network: list its styles, then the new ones, "
                          "in styles=[...]")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic (Lightning writes the target file in place)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_save(checkpoint, path)


def build_trainer(cfg: DictConfig) -> L.Trainer:
    """The trainer of ``cfg`` with its callbacks and loggers (those that need a logger dropped when there is
    none) and atomic checkpoint writes: the same for style training and the universal decoders."""
    callbacks = [instantiate(c, f"callbacks.{k}") for k, c in (cfg.get("callbacks") or {}).items() if c is not None]
    loggers = [instantiate(c, f"logger.{k}") for k, c in (cfg.get("logger") or {}).items() if c is not None]
    if not loggers and (dropped := [c for c in callbacks if isinstance(c, NEEDS_LOGGER)]):
        log.info("no logger: running without %s (it needs one)", ", ".join(type(c).__name__ for c in dropped))
        callbacks = [c for c in callbacks if c not in dropped]
    return instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()])


def build(cfg: DictConfig, check: bool = True) -> tuple[L.LightningDataModule, StyleTransferModule, L.Trainer]:
    """The data module, the module and the trainer of ``cfg``; ``check=False`` when :func:`check_config` has
    just run. The trainer first: what it refuses (devices, strategy, precision) is refused before the loss
    network is loaded."""
    if check:
        check_config(cfg)
    trainer = build_trainer(cfg)
    datamodule = instantiate(cfg.data, "data")
    styles = resolve_styles(cfg)
    net = instantiate(cfg.model, "model", num_styles=len(styles) if styles else 1)
    new_styles = extend_network(net, user_path(cfg.init_from), styles) if cfg.get("init_from") else None
    module = instantiate(cfg.module, "module")(
        net=net,
        loss=OmegaConf.to_container(cfg.loss, resolve=True),
        style=OmegaConf.to_container(cfg.style, resolve=True),
        image_size=int(cfg.data.image_size),
        styles=styles,
        first_new_style=new_styles[0] if new_styles else None,
    )
    return datamodule, module, trainer


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit a style network. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"}).
    Everything a run can be refused for is refused here, before any data, weights or files are touched."""
    check_config(cfg)
    ckpt_path = resolve_ckpt_path(cfg)
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
    remove_stale_temporaries(cfg.checkpoint_dir, older_than=0)  # left by a run killed mid-save; this run owns the folder
    datamodule, module, trainer = build(cfg, check=False)
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return metrics, {"trainer": trainer, "module": module, "datamodule": datamodule, "checkpoint_dir": cfg.checkpoint_dir}
