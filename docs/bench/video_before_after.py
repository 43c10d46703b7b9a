"""Video throughput of two versions of the video loop (docs/video.md, "Throughput"), interleaved in one process.

    python docs/bench/video_before_after.py CLIP [--before 8346344] [--after c6eac01] [--sizes 854 1280] [--frames 40] [--rounds 3]

``--before`` and ``--after`` are git revisions of this repository whose stylenet/inference/video.py is loaded
(8346344: the serial loop, decode, stylise and encode in turn, which stylenet keeps; c6eac01: encoding on a
writer thread beside the network, measured no faster on 2 cores and reverted). Each runs with the half-width
network (the quick recipe's) and with model=fast, untrained (speed does not depend on the weights),
onnxruntime, batch 4, after a warm-up. Prints frames/s, the median of the rounds.
``python -m stylenet bench bench.sections=[video]`` times today's loop alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from stylenet.inference.stylizer import Stylizer  # noqa: E402
from stylenet.networks.transformer import TransformerNet  # noqa: E402


def load_loop(rev: str, tmp: Path):
    """stylenet/inference/video.py as it was at ``rev``, as a module of its own."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:stylenet/inference/video.py"], check=True,
                         capture_output=True, text=True).stdout
    name = f"video_{rev}"
    path = tmp / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser()
    a.add_argument("clip", type=Path)
    a.add_argument("--before", default="8346344")
    a.add_argument("--after", default="c6eac01")
    a.add_argument("--sizes", type=int, nargs="+", default=[854, 1280])
    a.add_argument("--frames", type=int, default=40)
    a.add_argument("--rounds", type=int, default=3)
    args = a.parse_args(argv)
    torch.manual_seed(0)
    nets = {"johnson_half": TransformerNet(16, 5), "fast": TransformerNet(32, 4, stem="space_to_depth", residual_channels=48)}
    stylizers = {k: Stylizer(n, device="cpu", backend="onnxruntime") for k, n in nets.items()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        loops = {args.before: load_loop(args.before, tmp).stylize_video, args.after: load_loop(args.after, tmp).stylize_video}
        print(f"torch threads {torch.get_num_threads()}, {args.frames} frames, median of {args.rounds} rounds after a warm-up")
        print("| network | loop | " + " | ".join(f"{s} px frames/s" for s in args.sizes) + " |")
        print("|---|---|" + "---|" * len(args.sizes))
        cells: dict[tuple[str, str], list[str]] = {(n, lo): [] for n in stylizers for lo in loops}
        for size in args.sizes:
            fps: dict[tuple[str, str], list[float]] = {k: [] for k in cells}
            for (n, lo) in cells:
                loops[lo](stylizers[n], args.clip, tmp / "out.mp4", max_frames=4, size=size, progress=False)
            for _ in range(args.rounds):
                for (n, lo) in cells:
                    r = loops[lo](stylizers[n], args.clip, tmp / "out.mp4", max_frames=args.frames, size=size, batch_size=4, progress=False)
                    fps[(n, lo)].append(r.frames / r.seconds)
            for k, v in fps.items():
                cells[k].append(f"{statistics.median(v):.2f}")
        for (n, lo), c in cells.items():
            print(f"| {n} | {lo} | " + " | ".join(c) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
