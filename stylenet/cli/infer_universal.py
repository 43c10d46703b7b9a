"""``infer.py`` with a universal checkpoint: any painting as the style (stylenet.universal, docs/universal.md).

    python infer.py --ckpt checkpoints/universal/last.ckpt --style wave.jpg photos/
    python infer.py --ckpt checkpoints/universal/last.ckpt --style a.jpg:0.7 --style b.jpg:0.3 --alpha 0.8 photo.jpg
    python infer.py --ckpt checkpoints/universal/last.ckpt --style wave.jpg --transform adain photo.jpg
    python infer.py --ckpt adain --style wave.jpg --backend onnxruntime-int8 photo.jpg   # int8 on a CPU

The options a universal checkpoint takes, checked here; the stylizer is
:class:`stylenet.universal.paintings.PaintingStylizer`, run by :func:`stylenet.cli.infer_run.run_stylize` as
a trained network is (inputs, output names, atomic writes, failures reported per file).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from stylenet.cli.entry import UsageError
from stylenet.cli.infer_jobs import plan_jobs
from stylenet.cli.infer_run import run_stylize
from stylenet.inference.mix import MixError, check_style_weight
from stylenet.inference.universal_onnx import use_backend
from stylenet.universal.paintings import PaintingStylizer, style_label
from stylenet.universal.stylizer import UniversalError, UniversalStylizer, check_palette


def parse_style(arg: str) -> tuple[str, float]:
    """``PATH`` or ``PATH:WEIGHT`` → (path, weight); a file whose name really ends in ``:number`` wins."""
    path, sep, weight = arg.rpartition(":")
    if not sep or not path or os.path.exists(arg):
        return arg, 1.0
    try:
        w = float(weight)
    except ValueError:
        return arg, 1.0  # a colon that is part of the path
    try:
        return path, check_style_weight(w, path)
    except MixError as e:
        raise UsageError(f"--style {arg}: {e}") from None


def run_universal(args, ckpt: Path, device: torch.device) -> int:
    if args.export:
        raise UsageError(f"{ckpt} holds universal decoders: there is no single network to export (--export is for trained networks)")
    if not args.style:
        raise UsageError(f"{ckpt} holds universal decoders: give the painting with --style PAINTING.jpg (repeat to blend, PATH:WEIGHT)")
    alpha = 1.0 if args.alpha is None else args.alpha
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha:g}")
    if args.mix is not None:
        raise UsageError("--mix blends the styles of a multi-style network; with a universal checkpoint blend paintings with "
                         "--style a.jpg:0.7 --style b.jpg:0.3")
    if args.contact_sheet:
        raise UsageError("--contact-sheet shows the styles of a multi-style network; a universal checkpoint has none of its own")
    if args.stroke_scale is not None:
        raise UsageError("--stroke-scale applies to trained networks, not to a universal checkpoint "
                         "(there --style-size sets the painting's scale)")
    if args.tile not in ("auto", 0):
        raise UsageError("--tile does not apply to a universal checkpoint: WCT needs the whole image's statistics")
    try:
        check_palette(args.palette or "auto", args.preserve_color)  # one rule for the CLI and the library
    except UniversalError as e:
        raise UsageError(str(e)) from None
    if args.half:
        raise UsageError("a universal checkpoint runs in float32 (int8 on a CPU: --backend onnxruntime-int8): drop --half")
    styles = [parse_style(s) for s in args.style]
    paths, weights = [p for p, _ in styles], [w for _, w in styles]
    if sum(weights) <= 0:
        raise UsageError("the --style weights are all 0; give at least one a positive weight")
    label = style_label(paths)
    jobs, failures, out = plan_jobs(args, label)
    # A video among photos fails alone: the photos are still stylised (it stopped the whole run before).
    failures += [(str(j.src), "a universal checkpoint stylises photos, not videos: stylise its frames, or use a trained network")
                 for j in jobs if j.film]
    jobs = [j for j in jobs if not j.film]
    if not jobs:
        raise UsageError(f"no photos to stylise: a universal checkpoint stylises photos, not videos ({failures[-1][0]}); "
                         "stylise its frames, or use a trained network")
    if args.threads:
        torch.set_num_threads(args.threads)
    decoders = use_backend(UniversalStylizer.from_checkpoint(ckpt, device=device), args.backend, args.threads)
    stylizer = PaintingStylizer(decoders, paths, weights, alpha=alpha, transform=args.transform,
                                style_size=args.style_size, palette=args.palette or "auto", label=label)  # a bad painting: one line, before any photo
    return run_stylize(args, stylizer, jobs, failures, str(out))
