"""The checks before any work that every kind of run shares: the step budget, the accelerator, the optimiser,
whole numbers in range and the folders a run writes. Each fails with one :class:`ConfigError` line naming
the key to fix, before data, weights or files are touched (:func:`stylenet.training.fit.fit` runs them
through each run's ``check()``)."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from stylenet.config import ConfigError, instantiate
from stylenet.errors import first_line
from stylenet.files import check_writable_dir
from stylenet.runtime import HALF_PRECISIONS, accelerator_device, native_half

MAX_SCHEDULE_CHECK = 200_000  # scheduler steps simulated before a run (about a second on 2 cores)
STEP_CKPT = re.compile(r"step=(\d+)\.ckpt")  # a periodic checkpoint's name (conf/callbacks/default.yaml)

log = logging.getLogger(__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(cfg: DictConfig, key: str, low: int, high: int | None = None, *, example: int) -> None:
    """``key`` is a whole number in [low, high] (or >= low)."""
    value = OmegaConf.select(cfg, key)
    if not (_is_int(value) and low <= value and (high is None or value <= high)):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{key}={value!r} is not a whole number {bounds}; give one, e.g. {key}={example}")


def finite(cfg: DictConfig, key: str, low: float, *, above: bool = False, example: float, say: str) -> None:
    """``key`` is a finite number >= low (> low when ``above``); else one line: ``key=value say; e.g. key=example``."""
    value = OmegaConf.select(cfg, key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value > low if above else value >= low)):
        raise ConfigError(f"{key}={value!r} {say}; give one, e.g. {key}={example}")


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
    loss network is loaded. And 16-bit precision where the device only emulates it (:func:`native_half`): the run
    would start, at a fiftieth of its speed."""
    accelerator = str(trainer.get("accelerator", "auto"))
    mps = accelerator == "gpu" and torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not (torch.cuda.is_available() or mps):
        raise ConfigError(f"trainer.accelerator={accelerator} but no GPU is visible (torch.cuda.is_available() is False); "
                          "train on the CPU with trainer=cpu, or check the driver and CUDA_VISIBLE_DEVICES")
    precision = str(trainer.get("precision", "32-true"))
    dtype = HALF_PRECISIONS.get(precision)
    if dtype is not None and not native_half(device := accelerator_device(accelerator), dtype):
        where = f"this CPU ({torch.backends.cpu.get_cpu_capability()})" if device.type == "cpu" else f"this {device.type} device"
        raise ConfigError(f"trainer.precision={precision}: {where} has no native {'bf16' if dtype == torch.bfloat16 else 'fp16'} "
                          "and emulates it, tens of times slower than fp32; set trainer.precision=32-true (experiment=standard "
                          "picks bf16 only where it is native)")


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
            scheduler = instantiate(cfg.module.scheduler, "module.scheduler")(optimizer=optimizer)
        except ZeroDivisionError:
            raise ConfigError(f"module.scheduler divides by zero for trainer.max_steps={cfg.trainer.get('max_steps')}: give more "
                              "steps or fix module.scheduler.* (OneCycleLR needs pct_start x total_steps >= 2)") from None
        except (ValueError, TypeError) as e:
            raise ConfigError(f"module.scheduler: {first_line(e)}; fix module.scheduler.*") from None
        # Step it through the whole run on the throwaway optimiser (microseconds a step): OneCycleLR with
        # pct_start x total_steps under 2 divides by zero at its first step, and one whose total_steps is below
        # trainer.max_steps fails when it runs out, hours in.
        steps = int(cfg.trainer.get("max_steps") or 0)
        step = 0
        optimizer.step()  # once, so the scheduler does not warn that it stepped first
        try:
            for step in range(1, min(steps, MAX_SCHEDULE_CHECK) + 1):
                scheduler.step()
        except (ValueError, ZeroDivisionError) as e:
            raise ConfigError(f"module.scheduler fails at step {step} of trainer.max_steps={steps}: {first_line(e) or type(e).__name__}; "
                              "give more steps or fix module.scheduler.* (OneCycleLR needs pct_start x total_steps >= 2)") from None


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


def check_output_folders(cfg: DictConfig) -> None:
    """Every folder the run writes can be written; the error names the key the user sets (paths.checkpoints),
    not the one it flows into."""
    roots = {"paths.checkpoints": OmegaConf.select(cfg, "paths.checkpoints"), "paths.logs": OmegaConf.select(cfg, "paths.logs")}
    for key, folder in output_folders(cfg).items():
        hint = next((k for k, root in roots.items() if root and str(folder).startswith(str(root))), None)
        check_writable_dir(folder, f"folder of {key}", f"set {hint or key} to a folder you can write")


def check_trainer(cfg: DictConfig) -> None:
    """What every run checks of its trainer and module: budget, accelerator, optimiser, output folders."""
    check_steps(cfg.trainer)
    check_accelerator(cfg.trainer)
    check_optimizer(cfg)
    check_output_folders(cfg)


def check_no_finished_run(cfg: DictConfig) -> None:
    """A new run (no ``ckpt_path``) never replaces the network of an earlier run in the same folder: a two-step
    sweep used to overwrite a finished 600-step ``last.ckpt`` and its samples. One line with the three ways on."""
    folder = Path(str(cfg.checkpoint_dir))
    if cfg.get("ckpt_path") or not folder.is_dir():
        return
    found = sorted(p.name for p in folder.iterdir() if p.name == "last.ckpt" or STEP_CKPT.fullmatch(p.name))
    if found:
        name = "last.ckpt" if "last.ckpt" in found else found[-1]
        raise ConfigError(f"{folder} already holds a run ({name}): resume it with ckpt_path=last, train a new one beside "
                          f"it with run_name=<new name>, or delete {folder} to start again")


def check_resume_schedule(cfg: DictConfig, checkpoint: dict, path: Path) -> None:
    """A resumed run restores its scheduler, whose length was fixed when the run began (OneCycleLR's
    total_steps): resuming with a larger trainer.max_steps used to fail when the schedule ran out."""
    steps = int(cfg.trainer.get("max_steps") or 0)
    for state in checkpoint.get("lr_schedulers") or []:
        total = state.get("total_steps") if isinstance(state, dict) else None
        if isinstance(total, int) and 0 < total < steps:
            raise ConfigError(f"{path} was scheduled for {total} steps (module.scheduler.total_steps) and cannot go on to "
                              f"trainer.max_steps={steps}; resume with trainer.max_steps={total}, or start a new run "
                              "(run_name=<new name>) for the longer schedule")


def check_restored_weights(state_dict: dict, path: Path) -> None:
    """A checkpoint to resume holds finite weights: a damaged or crafted file (NaN, inf, in bounds otherwise)
    would train on NaN from its first step. Checked before any work, as the other resume checks."""
    for name, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            raise ConfigError(f"{path} holds non-finite weights ({name}): it is damaged; resume from an earlier step=N.ckpt "
                              "beside it, or start a new run (ckpt_path=null)")
