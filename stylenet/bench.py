"""Measure training and inference speed on whatever device is there: ``python -m stylenet.bench``.

    python -m stylenet.bench                                        # conf/bench.yaml defaults, table on stdout
    python -m stylenet.bench model=johnson_half data.image_size=128 out=docs/bench.md
    python -m stylenet.bench experiment=johnson2016 trainer=gpu bench.variants=[base,bf16,bf16+compile]
    python -m stylenet.bench bench.sections=[infer] bench.infer_backends=[torch,inference_net]

Arguments are Hydra overrides of conf/bench.yaml, i.e. conf/train.yaml plus a ``bench`` section, so every
training option (model, data, trainer, speed switches) means what it means to ``train.py``.

What each section measures (docs/performance.md shows the tables):

* **train** — the real training. :func:`stylenet.training.build` makes the DataModule, the
  StyleTransferModule and the Trainer from the config, and a callback times every step of
  ``trainer.fit`` after ``bench.warmup`` steps: fetching the batch from the real data pipeline, forward,
  PerceptualLoss, backward, Adam and Lightning's own loop, the GPU synchronised before each clock
  reading. A Trainer and not a hand loop, because that is what ``train.py`` runs: the precision plugin,
  channels_last, compile, the loop's cost and a data pipeline that does or does not keep up all count.
  Checkpoints, sample grids, the logger and the progress bar are off (amortised over hundreds of steps,
  or cosmetic); validation is off.
* **step** — the same module's step (``_terms`` + backward + optimiser) in a hand loop on one synthetic
  batch already on the device: no data, no Lightning. Against **train** it shows what the loop and the
  data cost.
* **infer** — latency of the transform network (untrained: speed does not depend on the weights),
  batch 1, square images, for each backend of :data:`INFER_BACKENDS`.
* **data** — images/s of ``train_dataloader()`` alone (decode, resize, crop, collate; worker processes
  and pinned memory as configured), against the images/s the fastest training variant consumes.

Figures are medians with the min–max of the timed runs (on a shared machine a few runs are slowed by
neighbours). Peak memory is CUDA's ``max_memory_allocated`` on a GPU, the process's peak resident set on
a CPU (:mod:`stylenet.benchmark_utils`), both over the timed part only. The VGG weights default to
random: speed does not depend on their values, and nothing has to be downloaded.
"""

from __future__ import annotations

import datetime
import importlib.util
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from stylenet.benchmark_utils import Timing, measure, peak_rss_mb, reset_peak_rss, set_threads
from stylenet.errors import StylenetError, first_line
from stylenet.files import atomic_write_text

SECTIONS = ("train", "step", "infer", "data")
PAPER_STEPS = 40_000  # Johnson et al. 2016: 40k iterations of batch 4 at 256 px (~4 h on a Titan X)
PRECISIONS = {"32": None, "32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


class BenchError(StylenetError, ValueError):
    """A bench option that cannot work (unknown section, switch or backend)."""


# ---------------------------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peaks(device: torch.device) -> bool:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return reset_peak_rss()


def _timing(times_ms: list[float], device: torch.device, rss_resettable: bool) -> Timing:
    if not times_ms:
        raise BenchError("no step was timed: the run ended before bench.warmup steps; lower bench.warmup")
    cuda = device.type == "cuda"
    return Timing(
        median_ms=statistics.median(times_ms),
        min_ms=min(times_ms),
        max_ms=max(times_ms),
        runs=len(times_ms),
        peak_rss_mb=peak_rss_mb(),
        peak_rss_is_process_lifetime=not rss_resettable,
        peak_cuda_mb=torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
        times_ms=times_ms,
    )


def _autocast(device: torch.device, precision: str):
    """The autocast Lightning's precision plugin uses for ``precision``, for the loops outside a Trainer."""
    precision = str(precision)
    if precision not in PRECISIONS:
        raise BenchError(f"trainer.precision={precision} is not supported by the bench; use one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def _lightning_quiet() -> None:
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
    import lightning as L

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
            _sync(self.device)
            now, cpu = time.perf_counter(), time.process_time()
            self.seen += 1
            if self.seen == self.warmup:
                self.rss_resettable = _reset_peaks(self.device)
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
    import lightning as L

    L.seed_everything(cfg.seed, verbose=False)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)


def bench_fit(cfg: DictConfig, warmup: int, steps: int) -> tuple[Timing, list[float], torch.device]:
    """Time ``steps`` steps of the real ``trainer.fit`` after ``warmup`` steps."""
    from stylenet.training import build

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
    from stylenet.training import build

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


def _eager_backend(net: torch.nn.Module, device: torch.device, cfg: DictConfig) -> Callable[[torch.Tensor], Any]:
    """The TransformerNet as trained, in eval mode, with the config's channels_last, compile and precision:
    the reference the product paths are compared with."""
    channels_last = bool(cfg.channels_last)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    fn = torch.compile(net) if cfg.compile else net

    def run(x: torch.Tensor):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), _autocast(device, cfg.trainer.precision):
            return fn(x)

    return run


def _stylizer_backend(backend: str) -> Callable[..., Callable[[torch.Tensor], Any]]:
    def make(net: torch.nn.Module, device: torch.device, cfg: DictConfig) -> Callable[[torch.Tensor], Any]:
        from stylenet.stylize import Stylizer

        stylizer = Stylizer(net, device=device if backend == "torch" else "cpu", backend=backend)
        return lambda x: stylizer.stylize_tensor(x, tile=None)

    return make


# name → (make a runner from (net, device, cfg), what it is)
INFER_BACKENDS: dict[str, tuple[Callable[..., Callable[[torch.Tensor], Any]], str]] = {
    "eager": (_eager_backend, "TransformerNet as trained, eval, inference_mode, the config's precision/channels_last/compile"),
    "torch": (_stylizer_backend("torch"), "stylenet.stylize.Stylizer, backend torch (InferenceNet; fp16 on CUDA), what infer.py runs"),
    "onnxruntime": (_stylizer_backend("onnxruntime"), "stylenet.stylize.Stylizer, backend onnxruntime (CPU only)"),
}


def bench_infer(cfg: DictConfig, device: torch.device) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows of (backend, size, timing), and the backends skipped with the reason."""
    from hydra.utils import instantiate

    b = cfg.bench
    rows, skipped = [], {}
    for name in b.infer_backends:
        if name not in INFER_BACKENDS:
            raise BenchError(f"unknown inference backend {name!r}; choose from {', '.join(INFER_BACKENDS)}")
        make, what = INFER_BACKENDS[name]
        if name == "onnxruntime" and device.type != "cpu":
            skipped[name] = "runs on the CPU only; its figures belong to a CPU table"
            continue
        if name == "onnxruntime" and importlib.util.find_spec("onnxruntime") is None:
            skipped[name] = "not installed (pip install 'stylenet[onnx]')"
            continue
        torch.manual_seed(cfg.seed)
        net = instantiate(cfg.model).eval().requires_grad_(False).to(device)
        run = make(net, device, cfg)
        for size in b.infer_sizes:
            x = torch.rand(1, 3, int(size), int(size), device=device)
            t = measure(lambda: run(x), runs=int(b.infer_runs), warmup=int(b.infer_warmup), device=device)
            rows.append({"backend": name, "what": what, "size": int(size), "timing": t})
    return rows, skipped


# ---------------------------------------------------------------------------------------------- data


def bench_data(cfg: DictConfig) -> dict[str, Any]:
    """Images/s of the real train_dataloader on its own (after warm-up batches that start the workers)."""
    from hydra.utils import instantiate

    from stylenet.module import batch_images

    b = cfg.bench
    datamodule = instantiate(cfg.data)
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
    rss_resettable = reset_peak_rss()
    t_start = time.perf_counter()
    for _ in range(int(b.data_batches)):
        t0 = time.perf_counter()
        images += len(batch_images(next(it)))
        times.append((time.perf_counter() - t0) * 1000.0)
    elapsed = time.perf_counter() - t_start
    timing = _timing(times, torch.device("cpu"), rss_resettable)
    del it, loader
    return {"timing": timing, "images": images, "images_per_s": images / elapsed,
            "workers": datamodule.num_workers, "pin_memory": datamodule.pin_memory,
            "batch_size": datamodule.batch_size, "image_size": datamodule.image_size, "source": f"{cfg.data.source}: {cfg.data.path}"}


# ---------------------------------------------------------------------------------------------- variants


def variant_overrides(variant: str, switches: dict[str, Sequence[str]]) -> list[str]:
    """``"bf16+channels_last+data.num_workers=8"`` → the overrides of each switch, then the raw ones."""
    out: list[str] = []
    for part in str(variant).split("+"):
        part = part.strip()
        if "=" in part:
            out.append(part)
        elif part in switches:
            out.extend(switches[part])
        else:
            raise BenchError(f"unknown switch {part!r} in bench.variants; use key=value or one of {', '.join(switches)}")
    return out


def _compose(overrides: list[str]) -> DictConfig:
    from hydra.errors import HydraException

    from stylenet.config import compose

    try:
        return compose("bench", overrides)
    except HydraException as e:
        raise BenchError(first_line(e)) from None


# ---------------------------------------------------------------------------------------------- report


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"CPU {model}, {os.cpu_count()} cores visible, {torch.get_num_threads()} torch threads"


def _mem(t: Timing) -> str:
    if t.peak_cuda_mb is not None:
        return f"{t.peak_cuda_mb:,.0f} MB CUDA"
    if t.peak_rss_mb is None:
        return "—"
    return f"{t.peak_rss_mb:,.0f} MB RSS" + (" (process peak)" if t.peak_rss_is_process_lifetime else "")


def _ms(t: Timing) -> str:
    return f"{t.median_ms:,.1f} ({t.min_ms:,.1f}–{t.max_ms:,.1f})"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _summary(cfg: DictConfig) -> str:
    m, d, t = cfg.model, cfg.data, cfg.trainer
    return (f"model {m.base_channels}-channel/{m.num_residual_blocks}-block, {d.image_size} px, batch {d.batch_size}, "
            f"precision {t.precision}, channels_last {cfg.channels_last}, compile {cfg.compile}, "
            f"compile_loss {cfg.get('compile_loss', False)}, single_pass {cfg.loss.single_pass}, cudnn benchmark "
            f"{t.benchmark}, data {d.source} ({d.num_workers} workers), VGG weights {cfg.loss.weights}")


def render(meta: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [f"### stylenet bench — {meta['device']}", "",
             f"`{meta['command']}`", "",
             f"{meta['date']} · torch {torch.__version__} · load average {meta['load_before']} before, "
             f"{meta['load_after']} after" + (f" · process RSS {meta['rss_start']:,.0f} MB before any section (python, torch, "
             "hydra: under every RSS peak below)" if meta.get("rss_start") else ""), "", f"Base config: {meta['summary']}.", ""]
    for key, title in (("train", "Training, Lightning fit loop on the real data pipeline"),
                       ("step", "Training step alone (hand loop, one batch on the device, no data)")):
        rows = results.get(key)
        if not rows:
            continue
        ref, ref_cpu = rows[0]["timing"].median_ms, rows[0]["cpu_ms"]
        lines += [f"{title}; {meta['warmup']} warm-up + {meta['steps']} timed steps:", "",
                  "| variant | overrides | ms/step, median (min–max) | steps/s | images/s | speed-up | "
                  f"{PAPER_STEPS // 1000}k steps | peak memory | CPU ms/step (speed-up) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            t = r["timing"]
            sps = 1000.0 / t.median_ms
            cpu = f"{r['cpu_ms']:,.0f} ({ref_cpu / r['cpu_ms']:.2f}×)" if r["cpu_ms"] > 0 else "—"
            lines.append(f"| {r['variant']} | {' '.join(r['overrides']) or '—'} | {_ms(t)} | {sps:.2f} | "
                         f"{sps * r['batch_size']:.1f} | {ref / t.median_ms:.2f}× | {_duration(PAPER_STEPS * t.median_ms / 1000)} | "
                         f"{_mem(t)} | {cpu} |")
        lines += ["", "CPU ms/step: this process's CPU time (all its threads, not the data workers), median; on a "
                  "shared machine it moves less than wall time. On a GPU it is the host's share of the step.", ""]
    if results.get("infer") or results.get("infer_skipped"):
        lines += [f"Inference, batch 1, square image, {meta['infer_warmup']} warm-up + {meta['infer_runs']} timed runs:", "",
                  "| backend | size | ms, median (min–max) | images/s | peak memory |", "|---|---|---|---|---|"]
        for r in results["infer"]:
            t = r["timing"]
            lines.append(f"| {r['backend']} | {r['size']}×{r['size']} | {_ms(t)} | {1000.0 / t.median_ms:.2f} | {_mem(t)} |")
        lines += [""] + [f"- {name}: {INFER_BACKENDS[name][1]}" for name in dict.fromkeys(r["backend"] for r in results["infer"])]
        lines += [f"- {name}: skipped, {why}" for name, why in results.get("infer_skipped", {}).items()] + [""]
    d = results.get("data")
    if d:
        t = d["timing"]
        lines += [f"Data loading alone ({d['source']}, {d['image_size']} px, batch {d['batch_size']}, {d['workers']} workers, "
                  f"pin_memory {d['pin_memory']}):", "",
                  "| batches | ms/batch, median (min–max) | images/s | training needs | headroom |", "|---|---|---|---|---|"]
        need = max((1000.0 / r["timing"].median_ms * r["batch_size"] for r in results.get("train") or []), default=None)
        need_s = f"{need:.1f} img/s" if need else "—"
        headroom = f"{d['images_per_s'] / need:.1f}×" if need else "—"
        lines += [f"| {t.runs} | {_ms(t)} | {d['images_per_s']:.1f} | {need_s} | {headroom} |", ""]
    return "\n".join(lines)


def _rss_mb() -> float | None:
    """The process's resident set now (Linux), the floor under every peak in the tables."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024.0 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run(overrides: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run the sections asked for; return the markdown report and the raw results."""
    overrides = list(overrides)
    cfg = _compose(overrides)
    b = cfg.bench
    unknown = [s for s in b.sections if s not in SECTIONS]
    if unknown:
        raise BenchError(f"unknown bench.sections {unknown}; choose from {', '.join(SECTIONS)}")
    switches = OmegaConf.to_container(b.switches, resolve=True)
    variants = {str(v): variant_overrides(str(v), switches) for v in (b.variants or ["base"])}  # checked before any run
    set_threads(b.threads)
    _lightning_quiet()
    warmup, steps = int(b.warmup), int(b.steps)
    meta = {"command": "python -m stylenet.bench " + " ".join(overrides), "load_before": _load(), "rss_start": _rss_mb(),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "summary": _summary(cfg),
            "warmup": warmup, "steps": steps, "infer_warmup": int(b.infer_warmup), "infer_runs": int(b.infer_runs)}
    results: dict[str, Any] = {}
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator in ("gpu", "cuda", "auto") else "cpu")
    # Inference and data first: the training runs leave the process's resident set high (allocator
    # caches), which would hide the smaller peaks of these sections.
    if "infer" in b.sections:
        results["infer"], results["infer_skipped"] = bench_infer(cfg, device)
    if "data" in b.sections:
        results["data"] = bench_data(cfg)
    for section, fn in (("train", bench_fit), ("step", bench_step)):
        if section not in b.sections:
            continue
        rows = []
        for v, extra in variants.items():
            vcfg = _compose(overrides + extra)
            timing, cpu_ms, device = fn(vcfg, warmup, steps)
            rows.append({"variant": v, "overrides": extra, "timing": timing, "cpu_ms": statistics.median(cpu_ms),
                         "batch_size": int(vcfg.data.batch_size)})
            print(f"[bench] {section} {v}: {timing}", file=sys.stderr, flush=True)
        results[section] = rows
    meta["device"] = _device_name(device)
    meta["load_after"] = _load()
    report = render(meta, results)
    if cfg.out:
        out = Path(str(cfg.out)).expanduser()
        atomic_write_text(report + "\n", out)  # a killed bench never leaves half a table
    return report, results


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        report, _ = run(argv)
    except StylenetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
