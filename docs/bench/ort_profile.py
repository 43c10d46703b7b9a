"""Where onnxruntime spends a network's time, by operator type (docs/performance.md, "What is met, and what is not").

    python docs/bench/ort_profile.py [--model fast|johnson_half] [--size 1024] [--runs 4]

The network untrained (speed does not depend on the weights), exported as the Stylizer exports it, run on a 4:3
photo with 2 intra-op threads and onnxruntime's profiler on; prints milliseconds per run and the share of each
operator type.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stylenet.benchmark.latency import photo_shape  # noqa: E402
from stylenet.inference.export import onnx_bytes  # noqa: E402
from stylenet.networks.transformer import TransformerNet  # noqa: E402

MODELS = {"fast": dict(base_channels=32, num_residual_blocks=4, stem="space_to_depth", residual_channels=48),
          "johnson_half": dict(base_channels=16, num_residual_blocks=5)}


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--model", choices=sorted(MODELS), default="fast")
    a.add_argument("--size", type=int, default=1024)
    a.add_argument("--runs", type=int, default=4)
    args = a.parse_args(argv)
    torch.manual_seed(0)
    net = TransformerNet(**MODELS[args.model])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    so.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        so.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(onnx_bytes(net), so, providers=["CPUExecutionProvider"])
        h, w = photo_shape(args.size)
        x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
        for _ in range(args.runs):
            session.run(None, {"image": x})
        events = json.loads(Path(session.end_profiling()).read_text())
    time, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            time[e["args"]["op_name"]] += e["dur"]
            count[e["args"]["op_name"]] += 1
    total = sum(time.values())
    print(f"model={args.model} at {w}x{h}: {total / args.runs / 1000:.1f} ms of kernels per run")
    for op, us in time.most_common():
        print(f"{op}: {us / args.runs / 1000:.1f} ms ({100 * us / total:.0f} %), {count[op] // args.runs} nodes")


if __name__ == "__main__":
    main(sys.argv[1:])
