"""Where and how fast things run: the one device resolver, device synchronise, timer and thread setting.

:func:`resolve_device` is what ``device=``/``--device`` mean in every command. :func:`measure` is a small,
honest timer (the bench, evaluate's network timing); the rules it follows:

* warm-up runs first (allocator, oneDNN/cuDNN kernel selection, lazy init are not the steady state);
* on CUDA, ``torch.cuda.synchronize()`` around each run, since kernels launch asynchronously and a
  timer without it measures the launch, not the work;
* the median, not the mean, is reported: on a shared machine a few runs are slowed by neighbours;
* peak memory is the process's resident-set high-water mark (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs`` before timing so earlier work does not count), and on CUDA the allocator's
  peak. Where ``VmHWM`` cannot be reset it falls back to ``ru_maxrss`` (peak since process start).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from stylenet.errors import StylenetError


@dataclass
class Timing:
    median_ms: float
    min_ms: float
    max_ms: float
    runs: int
    peak_rss_mb: float | None = None
    peak_rss_is_process_lifetime: bool = False
    peak_cuda_mb: float | None = None
    times_ms: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        s = f"median {self.median_ms:.1f} ms (min {self.min_ms:.1f}, max {self.max_ms:.1f}, n={self.runs})"
        if self.peak_rss_mb is not None:
            s += f", peak RSS {self.peak_rss_mb:.0f} MB" + (" (process lifetime)" if self.peak_rss_is_process_lifetime else "")
        if self.peak_cuda_mb is not None:
            s += f", peak CUDA {self.peak_cuda_mb:.0f} MB"
        return s


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark for this process; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # "5" resets VmHWM to the current RSS (Documentation/filesystems/proc.rst)
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory in MB: VmHWM where the kernel reports it, else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0  # bytes on macOS, KiB on Linux


class DeviceError(StylenetError, ValueError):
    """A device that is not there or not known; the message says what to use instead."""


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA, else Apple MPS, else CPU; an explicit device that is absent is a clear error."""
    name = str(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {name}: CUDA is not available here (no NVIDIA GPU/driver, or a CPU-only torch); use cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps":
        if not _mps_available():
            raise DeviceError(f"device {name}: Apple MPS is not available here; use cpu or auto")
    elif device.type != "cpu":
        raise DeviceError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


def accelerator_device(accelerator: str) -> torch.device:
    """The device a Lightning ``trainer.accelerator`` trains on: ``auto`` as :func:`resolve_device`, ``gpu`` a CUDA
    GPU else Apple's. (Whether it is there is :func:`~stylenet.training.checks.check_accelerator`'s to say.)"""
    accelerator = str(accelerator)
    if accelerator == "auto":
        return resolve_device("auto")
    if accelerator == "gpu" and not torch.cuda.is_available() and _mps_available():
        return torch.device("mps")
    return torch.device({"gpu": "cuda", "cuda": "cuda", "mps": "mps"}.get(accelerator, "cpu"))


# Lightning's precision strings for 16-bit autocast or weights, by the dtype they compute in.
HALF_PRECISIONS = {"bf16-mixed": torch.bfloat16, "bf16-true": torch.bfloat16, "bf16": torch.bfloat16,
                   "16-mixed": torch.float16, "16-true": torch.float16, "16": torch.float16}


def native_half(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether ``device`` computes ``dtype`` (bf16 or fp16) in hardware. A CPU without AVX-512 BF16/FP16 or AMX
    (AVX2 laptops, AMD before Zen 4) emulates it in oneDNN: on a 2-core AVX2 AMD EPYC a 3×3 convolution ran 150×
    slower under bf16 autocast and a training step 50× slower (2026-12-07, docs/performance.md)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and (dtype != torch.bfloat16 or torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        ops = torch.ops.mkldnn
        return bool(ops._is_mkldnn_bf16_supported() if dtype == torch.bfloat16 else ops._is_mkldnn_fp16_supported())
    return True  # Apple's GPUs: left to PyTorch's own MPS checks (not measured here)


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued GPU work, so wall-clock timings measure the computation and not its launch."""
    if device is None:
        return
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timing(times_ms: list[float], device: torch.device | str | None = None, rss_resettable: bool = True,
           track_memory: bool = True) -> Timing:
    """A :class:`Timing` of measured ``times_ms``, with the peaks since the last reset."""
    cuda = device is not None and torch.device(device).type == "cuda"
    return Timing(
        median_ms=statistics.median(times_ms),
        min_ms=min(times_ms),
        max_ms=max(times_ms),
        runs=len(times_ms),
        peak_rss_mb=peak_rss_mb() if track_memory else None,
        peak_rss_is_process_lifetime=track_memory and not rss_resettable,
        peak_cuda_mb=torch.cuda.max_memory_allocated(device) / 2**20 if cuda and track_memory else None,
        times_ms=times_ms,
    )


def reset_peaks(device: torch.device | str | None) -> bool:
    """Reset CUDA's and the process's memory peaks; False where the resident-set peak cannot be reset."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return reset_peak_rss()


def measure(
    fn: Callable[[], object],
    runs: int = 10,
    warmup: int = 2,
    device: torch.device | str | None = None,
    track_memory: bool = True,
) -> Timing:
    """Time ``fn()`` ``runs`` times after ``warmup`` calls; return the median and the peak memory.

    ``device`` is where ``fn`` runs its work (``"cuda"`` makes the timer synchronise). Memory is the
    peak over the warm-up and the timed runs, i.e. what the work needs, not what the process held before.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    resettable = reset_peaks(device) if track_memory else False
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(runs):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - t0) * 1000.0)
    return timing(times, device, resettable, track_memory)


def set_threads(n: int | None) -> None:
    """Use ``n`` intra-op threads for torch (None or 0 keeps torch's default: one per core)."""
    if n:
        torch.set_num_threads(n)


def rss_mb() -> float | None:
    """The process's resident set now (Linux), the floor under every peak in the bench's tables."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024.0 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None


def load_average() -> str:
    """The 1/5/15-minute load, for reports: a timing taken beside other work says so."""
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


# CPU features that change which kernels int8 and 16-bit work get (the same "AMD EPYC" name has come with and
# without them: model=fast in int8 ran 1.09–1.32× its fp32 speed on one and 1.30–1.51× on the other, docs/performance.md).
CPU_FEATURES = ("avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def cpu_features(cpuinfo: str) -> str:
    """torch's vector ISA for this CPU and which of :data:`CPU_FEATURES` the ``/proc/cpuinfo`` text lists."""
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), []))
    return " ".join([torch.backends.cpu.get_cpu_capability(), *(f for f in CPU_FEATURES if f in flags)])


def device_name(device: torch.device) -> str:
    """The machine in words, for reports and model cards: the GPU and its CUDA, or the CPU model, its vector
    features, its cores and torch's threads."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    model, cpuinfo = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            cpuinfo = f.read()
    except OSError:
        pass
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), model)
    return f"CPU {model} ({cpu_features(cpuinfo)}), {os.cpu_count()} cores visible, {torch.get_num_threads()} torch threads"
