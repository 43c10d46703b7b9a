"""A small, honest timer: median of N runs after warm-up, with peak memory.

Shared by ``infer.py --benchmark``-style checks and ``python -m stylenet.bench``. Rules it follows:

* warm-up runs first (allocator, oneDNN/cuDNN kernel selection, lazy init are not the steady state);
* on CUDA, ``torch.cuda.synchronize()`` around each run, since kernels launch asynchronously and a
  timer without it measures the launch, not the work;
* the median, not the mean, is reported: on a shared machine a few runs are slowed by neighbours;
* peak memory is the process's resident-set high-water mark (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs`` before timing so earlier work does not count), and on CUDA the allocator's
  peak. Where ``VmHWM`` cannot be reset it falls back to ``ru_maxrss`` (peak since process start).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch


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

    def as_dict(self) -> dict:
        return asdict(self)

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


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    elif device is not None and torch.device(device).type == "mps":
        torch.mps.synchronize()


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
    cuda = device is not None and torch.device(device).type == "cuda"
    resettable = reset_peak_rss() if track_memory else False
    if cuda and track_memory:
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(runs):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000.0)
    return Timing(
        median_ms=statistics.median(times),
        min_ms=min(times),
        max_ms=max(times),
        runs=runs,
        peak_rss_mb=peak_rss_mb() if track_memory else None,
        peak_rss_is_process_lifetime=track_memory and not resettable,
        peak_cuda_mb=torch.cuda.max_memory_allocated(device) / 2**20 if cuda and track_memory else None,
        times_ms=times,
    )


def set_threads(n: int | None) -> None:
    """Use ``n`` intra-op threads for torch (None or 0 keeps torch's default: one per core)."""
    if n:
        torch.set_num_threads(n)
