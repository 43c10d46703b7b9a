"""Time and peak memory of universal style transfer per backend, each backend in a fresh process (docs/universal.md,
"Stylisation time"): onnxruntime's memory arena never gives memory back, so backends run one after another in one
process would each inherit the others' peak.

    python docs/bench/universal_memory.py [--ckpt adain] [--style assets/styles/udnie.jpg]
        [--sizes 1024x768 3000x2000] [--backends torch onnxruntime onnxruntime-int8] [--runs 3]

For each size and backend: the seconds of each run (the first includes the graph export and, for int8, the
calibration on the painting) and the process's peak resident memory (VmHWM) over them. Prints one markdown row
per size and backend. Not a test: speed and memory are measured in benchmarks, not asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def child(ckpt: str, style: str, backend: str, height: int, width: int, runs: int) -> None:
    import torch

    from stylenet import zoo
    from stylenet.inference.universal_onnx import use_backend
    from stylenet.runtime import peak_rss_mb
    from stylenet.universal.stylizer import UniversalStylizer

    u = use_backend(UniversalStylizer.from_checkpoint(zoo.resolve(ckpt), device="cpu"), backend)
    styles = u.prepare_styles(style)
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        u.stylize_tensor(x, styles, transform="adain", palette="after")
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "peak_mb": peak_rss_mb(), "threads": torch.get_num_threads()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default="adain")
    ap.add_argument("--style", default="assets/styles/udnie.jpg")
    ap.add_argument("--sizes", nargs="+", default=["1024x768", "3000x2000"], help="WIDTHxHEIGHT")
    ap.add_argument("--backends", nargs="+", default=["torch", "onnxruntime", "onnxruntime-int8"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("BACKEND", "HEIGHT", "WIDTH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        backend, h, w = args.child
        child(args.ckpt, args.style, backend, int(h), int(w), args.runs)
        return
    print(f"`{args.ckpt}`, AdaIN with the palette after, `{args.style}` prepared once; {args.runs} runs, each backend in a fresh process")
    print("| photo | backend | s per run (the first includes export and calibration) | peak resident memory |")
    print("|---|---|---|---|")
    for size in args.sizes:
        w, h = (int(v) for v in size.lower().split("x"))
        for backend in args.backends:
            cmd = [sys.executable, __file__, "--ckpt", args.ckpt, "--style", args.style, "--runs", str(args.runs),
                   "--child", backend, str(h), str(w)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {w}×{h} | {backend} | failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode} | |", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            runs = " / ".join(f"{t:.2f}" for t in r["times"])
            print(f"| {w}×{h} | {backend} | {runs} | {r['peak_mb'] / 1024:.1f} GB |", flush=True)


if __name__ == "__main__":
    main()
