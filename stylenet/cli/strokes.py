"""``python -m stylenet strokes``: measure the working size each style of a network paints best at, and record it.

    python -m stylenet strokes checkpoints/wave/last.ckpt                       # the table only
    python -m stylenet strokes checkpoints/wave/last.ckpt --out wave-pretrained  # + a pretrained folder that records it
    python -m stylenet strokes five-paintings --photos my_photos --size 768

``--stroke-scale auto`` (infer.py's default) then paints a larger photo at that size and brings it back along the
photo's edges (stylenet/teacher/strokes.py says how it is chosen; docs/inference.md what it gives). Measure on photos
you do not score with; the default is the shipped sample photos (assets/sample).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from stylenet.cli.entry import UsageError, run_argv
from stylenet.files import ROOT
from stylenet.inference.save_pretrained import save_pretrained
from stylenet.networks.checkpoint import META_KEY, file_kind, load_file
from stylenet.networks.meta import MAX_SIDE, MIN_STROKE_SIDE
from stylenet.teacher.strokes import CALIBRATION_SIZE, SIDES, calibrate, format_table, with_stroke_sides
from stylenet.zoo import resolve

SAMPLE = ROOT / "assets" / "sample"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see python -m stylenet strokes --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m stylenet strokes", description=__doc__.split("\n")[0].split(": ", 1)[1],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpt", help="a checkpoint from train.py, a pretrained folder, or a shipped network's name")
    p.add_argument("--photos", default=None, help=f"a folder of photos to measure on (default: {SAMPLE.relative_to(ROOT)})")
    p.add_argument("--size", type=int, default=CALIBRATION_SIZE, help=f"the photos' long side (default {CALIBRATION_SIZE})")
    p.add_argument("--sides", type=int, nargs="+", default=list(SIDES), help=f"working long sides to try (default {' '.join(map(str, SIDES))})")
    p.add_argument("--limit", type=int, default=None, help="measure on the first N photos only")
    p.add_argument("--out", default=None, help="write a pretrained folder recording the sides (safetensors + config.json + card)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    return p


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not MIN_STROKE_SIDE <= args.size <= MAX_SIDE:
        raise UsageError(f"--size {args.size}: give a long side from {MIN_STROKE_SIDE} to {MAX_SIDE} px")
    if any(not MIN_STROKE_SIDE <= s <= args.size for s in args.sides):
        raise UsageError(f"--sides {' '.join(map(str, args.sides))}: each from {MIN_STROKE_SIDE} px up to --size ({args.size})")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit}: give at least 1")
    photos = Path(args.photos) if args.photos else SAMPLE
    if not photos.is_dir():
        raise UsageError(f"{photos} is not a folder; give --photos FOLDER")
    path = resolve(args.ckpt)
    ckpt = load_file(path)
    if file_kind(ckpt) == "universal":
        raise UsageError(f"{path} holds universal decoders, which paint at the photo's size; --style-size sets the painting's scale")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not (out.is_dir() and (out / "config.json").is_file()):
        raise UsageError(f"--out {out} exists and is not a pretrained folder; give a new folder")
    sides, scores = calibrate(path, photos, size=args.size, sides=sorted(set(args.sides), reverse=True), limit=args.limit,
                              device=args.device, say=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_table(scores))
    print("stroke sides: " + ", ".join(f"{k} {v} px" for k, v in sides.items()))
    if out is not None:
        folder = save_pretrained({**ckpt, META_KEY: with_stroke_sides(ckpt[META_KEY], sides)}, out)
        print(f"wrote {folder}: --ckpt {folder} paints each style at its side with --stroke-scale auto (the default)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_argv(_main, sys.argv[1:] if argv is None else argv, prog="python -m stylenet strokes", usage_code=2)
