"""Is 16-bit autocast native on this machine's CPU? One 3×3 convolution in fp32 and under bf16/fp16 autocast.

    python docs/bench/half_conv.py            # the table of docs/performance.md ("16-bit only where it is native")

oneDNN computes bf16 in hardware only with AVX-512 BF16 or AMX; elsewhere (AVX2) it emulates it, and a
training step under ``trainer.precision=bf16-mixed`` is tens of times slower than in fp32. That is why
``trainer.precision`` names a 16-bit type only where :func:`stylenet.runtime.native_half` says it is native,
and why ``experiment=standard`` asks for ``${stylenet_fast_precision:...}``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from stylenet.runtime import native_half


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="side of the 4×64×S×S input (default 128)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    x, conv = torch.randn(4, 64, args.size, args.size), torch.nn.Conv2d(64, 64, 3, padding=1)
    cpu = torch.device("cpu")
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    with torch.no_grad():
        fp32 = median_seconds(lambda: conv(x), args.runs)
        print(f"| dtype | native | 3×3 conv, 4×64×{args.size}² | time / fp32 |\n|---|---|---|---|\n| fp32 | yes | {fp32 * 1e3:.1f} ms | 1 |")
        for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
            def run(dtype=dtype):
                with torch.autocast("cpu", dtype=dtype):
                    conv(x)
            t = median_seconds(run, args.runs)
            print(f"| {name} autocast | {'yes' if native_half(cpu, dtype) else 'no'} | {t * 1e3:.1f} ms | {t / fp32:.3g} |")


if __name__ == "__main__":
    main()
