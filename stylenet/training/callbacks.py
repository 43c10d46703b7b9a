"""Training callbacks: a stylised sample grid in TensorBoard, the stylised sample photos at the end, a
whole-run progress bar and the run's cost, estimated from its first steps."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from torchvision.utils import make_grid

from stylenet.data.datamodule import list_images
from stylenet.data.images import ImageError, atomic_save_image, load_image
from stylenet.networks.transformer import run_any_size, set_mix

log = logging.getLogger(__name__)


@contextmanager
def eval_mode(net: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``net`` in eval mode for a callback's forward passes, its mode restored afterwards whatever happens."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


def _experiment(trainer: L.Trainer):
    """The TensorBoard SummaryWriter, if a TensorBoard logger is attached."""
    for logger in trainer.loggers:
        exp = getattr(logger, "experiment", None)
        if exp is not None and hasattr(exp, "add_image"):
            return exp
    return None


def style_mixes(pl_module: L.LightningModule) -> list[torch.Tensor | None]:
    """The mix of each style a module trains (one-hot rows, in order), or [None] for a one-style network."""
    n = len(getattr(pl_module, "styles", []))
    return list(torch.eye(n, device=pl_module.device)) if n else [None]


class StepCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that also writes ``last.ckpt`` when a run ends between two periodic saves.

    Lightning's writes it at the end only if no ``last.ckpt`` was saved during the run, so a run of
    max_steps=1500 with every_n_train_steps=1000 would otherwise end with last.ckpt at step 1000.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and trainer.global_step != self._last_global_step_saved:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            self._last_global_step_saved = trainer.global_step


class PeriodicImageCallback(L.Callback):
    """Calls ``_log(trainer, pl_module)`` on rank zero at the start, every ``every_n_steps`` and at the end:
    the schedule of the sample grid here and of the decoders' reconstruction grid (stylenet.universal)."""

    every_n_steps: int = 0

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        raise NotImplementedError

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._log(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.is_global_zero and self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0:
            self._log(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._log(trainer, pl_module)


class SampleGridCallback(PeriodicImageCallback):
    """Every ``every_n_steps``: fixed validation photos (top row) and their stylisation (bottom row).

    The photos are fixed for the whole run so that the grid shows the network's progress, not the data.
    The style image is logged once at the start.
    """

    def __init__(self, every_n_steps: int = 500, num_images: int = 4):
        self.every_n_steps = every_n_steps
        self.num_images = num_images
        self._photos: torch.Tensor | None = None

    def _fixed_photos(self, trainer: L.Trainer) -> torch.Tensor | None:
        if self._photos is None:
            dm = trainer.datamodule
            if dm is None or not hasattr(dm, "val_images"):
                return None
            self._photos = dm.val_images(self.num_images)
        return self._photos

    @torch.no_grad()
    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        exp = _experiment(trainer)
        photos = self._fixed_photos(trainer)
        if exp is None or photos is None or len(photos) == 0:
            return
        with eval_mode(pl_module.net) as net:
            x = photos.to(pl_module.device)
            rows = [x]
            for mix in style_mixes(pl_module):  # one row per style of a multi-style network
                set_mix(net, mix)
                rows.append(run_any_size(net, x).clamp(0, 1))
        grid = make_grid(torch.cat(rows).float().cpu(), nrow=len(x), padding=2)
        exp.add_image("samples/stylised", grid, global_step=trainer.global_step)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            exp = _experiment(trainer)
            if exp is not None and hasattr(pl_module, "load_styles"):
                names = [st["name"] for st in getattr(pl_module, "styles", [])]
                for i, image in enumerate(pl_module.load_styles()):
                    exp.add_image(f"samples/style/{names[i]}" if names else "samples/style", image[0], global_step=0)
        super().on_train_start(trainer, pl_module)


class FinalSamplesCallback(L.Callback):
    """When training ends, stylise every photo of ``photos`` (a folder) at long side ``size`` into
    ``<dirpath>/samples/<photo>_<style>.jpg`` and say where they are: the first thing a user wants to see,
    without starting TensorBoard or infer.py. An unreadable photo is skipped and named."""

    def __init__(self, photos: str | None, dirpath: str, size: int = 512):
        self.photos = photos
        self.dirpath = Path(dirpath)
        self.size = int(size)
        self._paths: list[str] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.photos:  # a missing folder stops the run now, not after training (DataError, one line)
            self._paths, _ = list_images(self.photos)

    @torch.no_grad()
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (self._paths and trainer.is_global_zero) or trainer.global_step == 0:
            return
        out = self.dirpath / "samples"
        styles = [st["name"] for st in getattr(pl_module, "styles", [])] or [getattr(pl_module, "style", {}).get("name", "styled")]
        mixes = style_mixes(pl_module)
        written, skipped = 0, []
        with eval_mode(pl_module.net) as net:
            for p in self._paths:
                try:
                    x = load_image(p, size=self.size).to(pl_module.device)
                    for style, mix in zip(styles, mixes):
                        set_mix(net, mix)
                        y = run_any_size(net, x).clamp(0, 1).float().cpu()
                        atomic_save_image(y, out / f"{Path(p).stem}_{style}.jpg")
                except (ImageError, OSError) as e:  # the checkpoint is already saved: never fail the run here
                    skipped.append(f"{Path(p).name} ({e})")
                    continue
                written += 1
        if skipped:
            log.warning("final samples: skipped %d photo(s): %s", len(skipped), "; ".join(skipped))
        if written:
            print(f"stylised {written} sample photo(s) at step {trainer.global_step}: {out}/", flush=True)


class StepProgressBar(ProgressBar):
    """One bar for the whole run (global step out of max_steps), with step rate and ETA.

    Lightning's default bar restarts every epoch, which on a small photo folder means hundreds of
    short bars and no useful ETA for a step-budgeted run.
    """

    def __init__(self, refresh_rate: int = 1):
        super().__init__()
        self.refresh_rate = refresh_rate
        self._bar = None
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (self._enabled and trainer.is_global_zero):
            return
        from tqdm.auto import tqdm

        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        self._bar = tqdm(total=total, initial=trainer.global_step, desc="train", unit="step", dynamic_ncols=True, smoothing=0.05)
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._bar is None:
            return
        self._bar.n = trainer.global_step
        if trainer.global_step % self.refresh_rate == 0:
            metrics = self.get_metrics(trainer, pl_module)
            metrics.pop("v_num", None)
            self._bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in metrics.items()}, refresh=False)
            self._bar.refresh()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._bar is not None:
            self._bar.n = trainer.global_step
            self._bar.close()
            self._bar = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.on_train_end(trainer, pl_module)


def format_duration(seconds: float) -> str:
    """``seconds`` as a person reads a run's length: 45 s, 12 min, 3.4 h, 2.1 days."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class RunEstimate(L.Callback):
    """One line, early in the run, with what the whole run will cost on this machine: seconds per step over
    ``steps`` steps (after ``skip`` warm-up steps, whose first-call costs would mislead) times the steps left.

    A bare ``python train.py`` is the paper's 40,000 steps: a day or more on a CPU. Saying so after a minute,
    with the quick recipe named, beats finding out from a progress bar hours later. ``hint_over`` seconds:
    above this estimate the line names ``hint``.
    """

    def __init__(self, steps: int = 10, skip: int = 2, hint_over: float = 3600.0, hint: str | None = None):
        if steps < 1 or skip < 0:
            raise ValueError(f"RunEstimate needs steps >= 1 and skip >= 0, got steps={steps}, skip={skip}")
        self.steps, self.skip, self.hint_over, self.hint = int(steps), int(skip), float(hint_over), hint
        self._start_step: int | None = None
        self._t0 = 0.0
        self.estimate_s: float | None = None  # the total left when it was printed (tests read it)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._first, self._start_step, self.estimate_s = trainer.global_step, None, None  # a resumed run starts late

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.estimate_s is not None or not trainer.max_steps or trainer.max_steps < 0:
            return
        step = trainer.global_step
        if self._start_step is None:
            if step >= self._first + self.skip:
                self._start_step, self._t0 = step, time.perf_counter()
            return
        done = step - self._start_step
        if done < self.steps and step < trainer.max_steps:
            return
        per_step = (time.perf_counter() - self._t0) / max(done, 1)
        left = max(trainer.max_steps - step, 0)
        # A progressive run (module.progressive) measures its small crops; its later steps cost about the pixel ratio
        # more (128 -> 256 px: 0.54 -> 2.0 s/step on 2 cores, 2026-12-06), which a plain product would leave out.
        prog, full = getattr(pl_module, "progressive", None), getattr(pl_module, "image_size", None)
        later, ratio = 0, 1.0
        if prog is not None and full and step < prog.steps:
            later, ratio = max(trainer.max_steps - max(prog.steps, step), 0), (full / prog.size) ** 2
        self.estimate_s = per_step * (left - later + later * ratio)
        if not trainer.is_global_zero or left == 0:
            return
        stages = f" at {prog.size} px, about {ratio:.2g}x that for the {later:,} steps at {full} px" if later else ""
        line = (f"estimate: {per_step:.2g} s/step on {pl_module.device.type}{stages}; the {left:,} steps left take about "
                f"{format_duration(self.estimate_s)}")
        if self.hint and self.estimate_s > self.hint_over:
            line += f" ({self.hint})"
        from tqdm.auto import tqdm

        tqdm.write(line)  # above the progress bar, not inside its line
