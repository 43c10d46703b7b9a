"""``infer.py`` with a universal checkpoint: any painting as the style (stylenet.universal, docs/universal.md).

    python infer.py --ckpt checkpoints/universal/last.ckpt --style wave.jpg photos/
    python infer.py --ckpt checkpoints/universal/last.ckpt --style a.jpg:0.7 --style b.jpg:0.3 --alpha 0.8 photo.jpg
    python infer.py --ckpt checkpoints/universal/last.ckpt --style wave.jpg --transform adain photo.jpg

Everything else is infer.py's own: inputs, output names, atomic writes, failures reported per file
(:func:`stylenet.cli.infer.run_stylize` drives :class:`UniversalRunner` as it drives a Stylizer).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image

from stylenet.cli.infer import UsageError, plan_jobs, run_stylize
from stylenet.inference.video import is_video_path
from stylenet.universal.stylizer import UniversalStylizer


def parse_style(arg: str) -> tuple[str, float]:
    """``PATH`` or ``PATH:WEIGHT`` → (path, weight); a file whose name really ends in ``:number`` wins."""
    path, sep, weight = arg.rpartition(":")
    if not sep or not path or os.path.exists(arg):
        return arg, 1.0
    try:
        w = float(weight)
    except ValueError:
        return arg, 1.0  # a colon that is part of the path
    if not w >= 0:
        raise UsageError(f"--style {arg}: the weight must be a number >= 0")
    return path, w


def style_label(paths: list[str]) -> str:
    stems = "+".join(Path(p).stem for p in paths)[:60]
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in stems) or "universal"


class UniversalRunner:
    """What :func:`stylenet.cli.infer.run_stylize` needs from a stylizer, for a universal one: the paintings
    are encoded once, each photo is stylised alone (WCT's statistics are per image)."""

    backend = "torch"
    dtype = torch.float32
    tiled_images = 0

    def __init__(self, stylizer: UniversalStylizer, styles, weights, alpha: float, transform: str, style_size, label: str):
        self.stylizer, self.device = stylizer, stylizer.device
        self.style_label = label  # what infer.py prints
        self.styles = stylizer.prepare_styles(styles, weights, style_size)  # bad painting: one line, before any photo
        self.alpha, self.transform = alpha, transform

    def stylize_many(self, images, *, size=None, strength=1.0, preserve_color=False, batch_size=1, **_tiling):
        outs = []
        for item in images:
            out = self.stylizer.stylize(item, self.styles, alpha=self.alpha, transform=self.transform,
                                        preserve_color=preserve_color, size=size)
            if strength < 1.0:  # infer's --strength: a blend with the photo in pixels, after the transform
                rgb = item[0] if isinstance(item, tuple) else item.convert("RGB")
                alpha = out.getchannel("A") if out.mode == "RGBA" else None
                out = Image.blend(rgb.resize(out.size, Image.Resampling.LANCZOS), out.convert("RGB"), strength)
                if alpha is not None:
                    out.putalpha(alpha)
            outs.append(out)
        return outs


def run_universal(args, ckpt: Path, device: torch.device) -> int:
    if args.export:
        raise UsageError(f"{ckpt} holds universal decoders: there is no single network to export (--export is for trained networks)")
    if not args.style:
        raise UsageError(f"{ckpt} holds universal decoders: give the painting with --style PAINTING.jpg (repeat to blend, PATH:WEIGHT)")
    alpha = 1.0 if args.alpha is None else args.alpha
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {alpha:g}")
    if args.style_size is not None and args.style_size < 1:
        raise UsageError(f"--style-size must be a positive number of pixels, got {args.style_size}")
    if args.stroke_scale is not None:
        raise UsageError("--stroke-scale applies to trained networks, not to a universal checkpoint "
                         "(there --style-size sets the painting's scale)")
    if args.tile not in ("auto", 0):
        raise UsageError("--tile does not apply to a universal checkpoint: WCT needs the whole image's statistics")
    if args.half or args.backend == "onnxruntime":
        raise UsageError("a universal checkpoint runs in float32 on PyTorch: drop --half / --backend onnxruntime")
    styles = [parse_style(s) for s in args.style]
    paths, weights = [p for p, _ in styles], [w for _, w in styles]
    if sum(weights) <= 0:
        raise UsageError("the --style weights are all 0; give at least one a positive weight")
    label = style_label(paths)
    jobs, failures, out = plan_jobs(args, label)
    if videos := [j.src for j in jobs if is_video_path(j.src)]:
        raise UsageError(f"videos are not supported with a universal checkpoint ({videos[0]}); stylise its frames, or use a trained network")
    if args.threads:
        torch.set_num_threads(args.threads)
    stylizer = UniversalStylizer.from_checkpoint(ckpt, device=device)
    runner = UniversalRunner(stylizer, paths, weights, alpha, args.transform or "wct", args.style_size, label)
    return run_stylize(args, runner, jobs, failures, str(out))
