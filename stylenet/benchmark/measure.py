"""The bench's measurements (train, step, infer, data; latency against the peers is :mod:`stylenet.benchmark.latency`); :mod:`stylenet.cli.bench` runs them and
:mod:`stylenet.benchmark.report` renders them. What each measures: the command's docstring."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, open_dict

from stylenet.config import instantiate
from stylenet.errors import StylenetError
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.transformer import set_mix
from stylenet.runtime import Timing, measure, reset_peaks, synchronize, timing
from stylenet.training.build import build
from stylenet.training.module import batch_images
from stylenet.training.spec import RunSpec

SECTIONS = ("train", "step", "infer", "data", "latency", "video", "universal")  # stylenet.benchmark.latency, .video, .universal
PAPER_STEPS = 40_000  # Johnson et al. 2016: 40k iterations of batch 4 at 256 px (~4 h on a Titan X)
PRECISIONS = {"32": None, "32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


class BenchError(StylenetError, ValueError):
    """A bench option that cannot work (unknown section, switch or backend)."""


# ---------------------------------------------------------------------------------------------- timing


def _timing(times_ms: list[float], device: torch.device, rss_resettable: bool) -> Timing:
    if not times_ms:
        raise BenchError("no step was timed: the run ended before bench.warmup steps; lower bench.warmup")
    return timing(times_ms, device, rss_resettable)


def _autocast(device: torch.device, precision: str):
    """The autocast Lightning's precision plugin uses for ``precision``, for the loops outside a Trainer."""
    precision = str(precision)
    if precision not in PRECISIONS:
        raise BenchError(f"trainer.precision={precision} is not supported by the bench; use one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def lightning_quiet() -> None:
    # The bench prints one table; Lightning's banners ("GPU available", "Trainer.fit stopped") are noise.
    import lightning.pytorch  # noqa: F401  (its import sets its loggers to INFO: set them after)

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
    warnings.filterwarnings("ignore", message=r".*self\.log.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


# ---------------------------------------------------------------------------------------------- train


def _step_timer():
    class StepTimer(L.Callback):
        """Wall time between consecutive ends of training steps (the whole step: data, compute, loop)."""

        def __init__(self, warmup: int):
            self.warmup = warmup
            self.times_ms: list[float] = []
            self.cpu_ms: list[float] = []  # this process's CPU time per step (all its threads)
            self.seen = 0
            self.rss_resettable = False
            self.device = torch.device("cpu")
            self._last = self._last_cpu = 0.0

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.device = pl_module.device
            synchronize(self.device)
            now, cpu = time.perf_counter(), time.process_time()
            self.seen += 1
            if self.seen == self.warmup:
                self.rss_resettable = reset_peaks(self.device)
            elif self.seen > self.warmup:
                self.times_ms.append((now - self._last) * 1000.0)
                self.cpu_ms.append((cpu - self._last_cpu) * 1000.0)
            self._last, self._last_cpu = now, cpu

    return StepTimer


def _bench_config(cfg: DictConfig, warmup: int, steps: int, root_dir: str) -> DictConfig:
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.callbacks = {}
        cfg.logger = {}
        t = cfg.trainer
        t.max_steps = warmup + steps
        t.limit_val_batches = 0
        t.num_sanity_val_steps = 0
        t.enable_checkpointing = False
        t.enable_progress_bar = False
        t.enable_model_summary = False
        t.default_root_dir = root_dir
        t.profiler = None
    return cfg


def _prepare(cfg: DictConfig) -> None:
    L.seed_everything(cfg.seed, verbose=False)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)


def bench_fit(cfg: DictConfig, warmup: int, steps: int) -> tuple[Timing, list[float], torch.device]:
    """Time ``steps`` steps of the real ``trainer.fit`` after ``warmup`` steps."""
    if warmup < 1 or steps < 1:
        raise BenchError("bench.warmup and bench.steps must be at least 1 (the first step includes lazy initialisation)")
    with tempfile.TemporaryDirectory(prefix="stylenet-bench-") as root:
        cfg = _bench_config(cfg, warmup, steps, root)
        _prepare(cfg)
        datamodule, module, trainer = build(cfg)
        timer = _step_timer()(warmup)
        trainer.callbacks.append(timer)
        trainer.fit(module, datamodule=datamodule)
        return _timing(timer.times_ms, timer.device, timer.rss_resettable), timer.cpu_ms, timer.device


def bench_step(cfg: DictConfig, warmup: int, steps: int) -> tuple[Timing, list[float], torch.device]:
    """Time the module's step (forward, PerceptualLoss, backward, optimiser) on one batch already on the device."""
    with tempfile.TemporaryDirectory(prefix="stylenet-bench-") as root:
        cfg = _bench_config(cfg, warmup, steps, root)
        _prepare(cfg)
        _, module, trainer = build(cfg)
        device = trainer.strategy.root_device
        module.to(device)
        module.setup("fit")  # channels_last and the style targets, as under a Trainer
        opt = module.configure_optimizers()
        opt = opt["optimizer"] if isinstance(opt, dict) else opt
        precision = str(cfg.trainer.precision)
        scaler = torch.amp.GradScaler(device.type) if precision == "16-mixed" else None
        size = int(cfg.data.image_size)
        x = torch.rand(int(cfg.data.batch_size), 3, size, size, device=device)

        cpu_ms: list[float] = []

        def step() -> None:
            c0 = time.process_time()
            _step()
            cpu_ms.append((time.process_time() - c0) * 1000.0)

        def _step() -> None:
            opt.zero_grad(set_to_none=True)
            with _autocast(device, precision):
                total = module._terms(x)["total"]
            if scaler is None:
                total.backward()
                opt.step()
            else:
                scaler.scale(total).backward()
                scaler.step(opt)
                scaler.update()

        timing = measure(step, runs=steps, warmup=warmup, device=device)
        return timing, cpu_ms[-steps:], device


# ---------------------------------------------------------------------------------------------- infer


def _eager_backend(net: torch.nn.Module, device: torch.device, cfg: DictConfig, spec: RunSpec) -> Callable[[torch.Tensor], Any]:
    if spec.styles:  # a multi-style network paints its first style (every style costs the same)
        set_mix(net, torch.nn.functional.one_hot(torch.tensor(0), spec.num_styles).float().to(device))
    """The TransformerNet as trained, in eval mode, with the config's channels_last, compile and precision:
    the reference the product paths are compared with."""
    channels_last = bool(cfg.module.channels_last)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    fn = torch.compile(net) if cfg.module.compile else net

    def run(x: torch.Tensor):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), _autocast(device, cfg.trainer.precision):
            return fn(x)

    return run


def _stylizer_backend(backend: str) -> Callable[..., Callable[[torch.Tensor], Any]]:
    def make(net: torch.nn.Module, device: torch.device, cfg: DictConfig, spec: RunSpec) -> Callable[[torch.Tensor], Any]:
        # A multi-style network paints its first style, as infer.py --style NAME would (every style costs the same).
        meta, style = ({"styles": spec.styles}, spec.style_names[0]) if spec.styles else (None, None)
        stylizer = Stylizer(net, meta, device=device if backend == "torch" else "cpu", backend=backend, style=style)
        return lambda x: stylizer.stylize_tensor(x, tile=None, stroke_scale=1)  # the network at the photo's size

    return make


# name → (make a runner from (net, device, cfg, spec), what it is)
INFER_BACKENDS: dict[str, tuple[Callable[..., Callable[[torch.Tensor], Any]], str]] = {
    "eager": (_eager_backend, "TransformerNet as trained, eval, inference_mode, the config's precision/channels_last/compile"),
    "torch": (_stylizer_backend("torch"), "stylenet.inference.stylizer.Stylizer, backend torch (InferenceNet; fp16 on CUDA), what infer.py runs"),
    "onnxruntime": (_stylizer_backend("onnxruntime"), "stylenet.inference.stylizer.Stylizer, backend onnxruntime (CPU only)"),
}


def bench_infer(cfg: DictConfig, device: torch.device) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows of (backend, size, timing), and the backends skipped with the reason."""
    b = cfg.bench
    spec = RunSpec.from_cfg(cfg)  # styles=[...]: the multi-style network training would build
    rows, skipped = [], {}
    for name in b.infer_backends:
        if name not in INFER_BACKENDS:
            raise BenchError(f"unknown inference backend {name!r}; choose from {', '.join(INFER_BACKENDS)}")
        make, what = INFER_BACKENDS[name]
        if name == "onnxruntime" and device.type != "cpu":
            skipped[name] = "runs on the CPU only; its figures belong to a CPU table"
            continue
        if name == "onnxruntime" and importlib.util.find_spec("onnxruntime") is None:
            skipped[name] = "not installed (a stylenet dependency: pip install onnxruntime)"
            continue
        torch.manual_seed(cfg.seed)
        net = instantiate(cfg.model, "model", num_styles=spec.num_styles).eval().requires_grad_(False).to(device)
        run = make(net, device, cfg, spec)
        for size in b.infer_sizes:
            x = torch.rand(1, 3, int(size), int(size), device=device)
            t = measure(lambda: run(x), runs=int(b.infer_runs), warmup=int(b.infer_warmup), device=device)
            rows.append({"backend": name, "what": what, "size": int(size), "timing": t})
    return rows, skipped


# ---------------------------------------------------------------------------------------------- data


def bench_data(cfg: DictConfig) -> dict[str, Any]:
    """Images/s of the real train_dataloader on its own (after warm-up batches that start the workers)."""
    b = cfg.bench
    datamodule = instantiate(cfg.data, "data")
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()

    def batches():
        while True:  # as many epochs as needed (persistent workers survive a new iter())
            yielded = False
            for batch in loader:
                yielded = True
                yield batch
            if not yielded:
                raise BenchError("the training data loader yielded no batch")

    it = batches()
    for _ in range(int(b.data_warmup)):
        next(it)
    times, images = [], 0
    rss_resettable = reset_peaks(None)
    t_start = time.perf_counter()
    for _ in range(int(b.data_batches)):
        t0 = time.perf_counter()
        images += len(batch_images(next(it)))
        times.append((time.perf_counter() - t0) * 1000.0)
    elapsed = time.perf_counter() - t_start
    measured = _timing(times, torch.device("cpu"), rss_resettable)
    del it
    return {"timing": measured, "images": images, "images_per_s": images / elapsed,
            "workers": datamodule.num_workers, "pin_memory": datamodule.pin_memory,
            "batch_size": datamodule.batch_size, "image_size": datamodule.image_size, "source": f"{cfg.data.source}: {cfg.data.path}"}
