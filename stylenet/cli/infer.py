"""The ``infer.py`` command: stylise files, folders and globs with a checkpoint, or export it.

    python infer.py --ckpt checkpoints/wave/last.ckpt photo.jpg                 # → stylized/photo_wave.jpg
    python infer.py --ckpt wave.pt holidays/ -o out/ --ext webp --size 1024     # a folder, recursively
    python infer.py --ckpt wave.pt "scans/*.tif" --tile 1024 --preserve-color   # big images, in tiles
    python infer.py --ckpt wave.pt photo.jpg --stroke-scale 2                    # strokes twice as big (default auto)
    python infer.py --ckpt wave.pt --export onnx --export torchscript -o export/
    python infer.py --ckpt checkpoints/universal/last.ckpt --style a.jpg:0.7 --style b.jpg:0.3 photos/  # any painting
    python infer.py photo.jpg --style starry_night                              # the shipped network (stylenet.zoo), no training
    python infer.py photo.jpg --style path/to/painting.jpg                      # the shipped AdaIN decoder: any painting
    python infer.py photo.jpg --style path/to/painting.jpg --adapt 60           # the shipped network learns it (a minute, cached)
    python infer.py --list-styles                                               # the shipped styles

Setup problems (missing or foreign checkpoint, bad option, unwritable output, absent CUDA, an output that
would overwrite an input) stop the command with one line and exit code 2 before any work. A file that
cannot be read or written fails alone: the others are processed, the summary lists the failures and
the exit code is 1. Outputs are written atomically; inputs are never overwritten.

This module is the command: its options, their checks and the choice of what to run. The inputs and output
names are :mod:`stylenet.cli.infer_jobs`'; the work is :mod:`stylenet.cli.infer_run`'s; a universal checkpoint's
options are :mod:`stylenet.cli.infer_universal`'s; ``--adapt`` is :mod:`stylenet.cli.infer_adapt`'s.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

from stylenet import zoo
from stylenet.cli.entry import UsageError, run_argv
from stylenet.cli.infer_adapt import check_adapt, run_adapt
from stylenet.cli.infer_jobs import DEFAULT_OUT, OUTPUT_FORMATS, network_label, plan_jobs
from stylenet.cli.infer_run import run_contact_sheet, run_export, run_stylize, run_videos
from stylenet.inference.adapt import MAX_SECONDS
from stylenet.inference.mix import StyleChoice, describe, mix_vector, parse_mix
from stylenet.inference.stroke_scale import AUTO_MIN_SIDE, MIN_STROKE_SCALE, MIN_WORKING_SIDE, check_stroke_scale, training_side
from stylenet.inference.stylizer import Stylizer, check_strength
from stylenet.inference.tiling import check_tiling
from stylenet.inference.video import VIDEO_EXTENSIONS
from stylenet.networks.checkpoint import file_kind, load_file, load_network
from stylenet.networks.meta import MAX_PAINTING_SIDE, MAX_SIDE
from stylenet.perceptual.color import DEFAULT_PALETTE, PALETTES
from stylenet.runtime import resolve_device
from stylenet.universal.transforms import TRANSFORMS  # torch only: not the decoders' code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="infer.py",
        description="Stylise photos with a trained stylenet checkpoint, or export it (ONNX, TorchScript, weights).",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help=f"image or video ({', '.join(e[1:] for e in VIDEO_EXTENSIONS)}) files, folders (searched recursively) or globs")
    p.add_argument("--ckpt", default=None, help="checkpoint from train.py (.ckpt), a pretrained folder (save_pretrained), an exported weights "
                        "file, or a pytorch/examples fast_neural_style state_dict (.pth/.model; converted on load). Without it, the "
                        "shipped models: --style NAME (a shipped style: --list-styles) or --style painting.jpg (the AdaIN decoder)")
    p.add_argument("--list-styles", action="store_true", help="name the shipped styles (or, with --ckpt, the checkpoint's) and stop")
    p.add_argument("-o", "--output", default=None, help=f"output folder (default ./{DEFAULT_OUT}/), or a file name for one input")
    p.add_argument("--ext", "--format", dest="ext", default=None, choices=sorted(OUTPUT_FORMATS),
                   help="output format (default: the input's if png/jpg/webp, else png)")
    p.add_argument("--size", type=int, default=None, help="resize so the long side is SIZE px (default: keep the size)")
    p.add_argument("--strength", type=float, default=1.0, help="0 = the photo, 1 = fully stylised (default); in between blends")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours, take only the stylised luminance")
    p.add_argument("--stroke-scale", default=None, metavar="S|auto",
                   help=f"strokes S times larger than the network paints at full size: it paints the photo resized by 1/S "
                        f"(long side at least {MIN_WORKING_SIDE} px) and the result is brought back to the photo's size by guided "
                        f"upsampling, which keeps the photo's edges sharp. auto (default): the working size the style was "
                        f"measured to paint best at (the shipped network's records it per style), else the scale it was trained at "
                        f"(working image at least {AUTO_MIN_SIDE} px), never enlarging; 1: the photo as it is. S from "
                        f"{MIN_STROKE_SCALE:g} (under 1 enlarges the photo first). Applied after --size, before "
                        f"--preserve-color and --strength; tiles split the working image. Trained networks only; "
                        f"refused with --export (not part of an exported graph)")
    p.add_argument("--device", default="auto", help="auto (default: CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--half", action=argparse.BooleanOptionalAction, default=None, help="float16 on the GPU (default: on for CUDA)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "onnxruntime-int8"],
                   help="auto (default): onnxruntime on the CPU when installed (faster there), torch otherwise; "
                        "onnxruntime-int8: quantised, 1.1-1.5x faster again for a network and about 2.8x for a painting "
                        "file (AdaIN), a small visible change (docs/performance.md, docs/universal.md)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    p.add_argument("--batch-size", type=int, default=None, help="same-size images per forward pass (default: 4 on GPU, 1 on CPU)")
    p.add_argument("--tile", default="auto", help="tile size in px for big images, 0 to never tile (default auto: 1024 px tiles for images over 4 Mpx)")
    p.add_argument("--overlap", type=int, default=None, help="pixels shared by neighbouring tiles (default 128)")
    p.add_argument("--stats-size", type=int, default=None, help="long side of the downscaled image giving the tiles' shared instance-norm statistics (default: the tile size)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--export", action="append", choices=["onnx", "torchscript", "weights"], default=None,
                   help="export the network instead of stylising (repeatable); checked against PyTorch on a photo")
    p.add_argument("--style", action="append", default=None, metavar="STYLE",
                   help="universal checkpoints: a painting to stylise with, PATH or PATH:WEIGHT (repeat to blend several); "
                        "multi-style networks: the style's NAME")
    p.add_argument("--alpha", type=float, default=None, help="universal checkpoints: style strength in feature space, 0..1 (default 1)")
    p.add_argument("--transform", choices=list(TRANSFORMS), default=None,
                   help="universal checkpoints: adain (Huang & Belongie 2017, relu4_1; the default where the file has it), "
                        "efdm (Zhang et al. 2022, exact distribution matching at relu4_1) or wct (Li et al. 2017, every level)")
    p.add_argument("--palette", default=None, choices=["auto", "none", *PALETTES],
                   help="universal checkpoints: recolour to the painting's colours (RGB mean and covariance) before the "
                        "decoder, after it, or both, so that its palette replaces the photo's; none: the decoder's own "
                        f"colours (default auto: {DEFAULT_PALETTE}, or none with --preserve-color)")
    p.add_argument("--style-size", type=int, default=None,
                   help="universal checkpoints: long side of the paintings in px (default: their own size, at most 1024)")
    p.add_argument("--mix", default=None, metavar="A:W,B:W",
                   help="multi-style networks: blend styles by weight, e.g. wave:0.7,udnie:0.3 (--style NAME picks one)")
    p.add_argument("--adapt", type=float, default=None, metavar="SECONDS",
                   help=f"with --style painting.jpg: a multi-style network (--ckpt, default the shipped five-paintings) learns "
                        f"the painting as one more style in SECONDS (above 0, at most {MAX_SECONDS:g}; its conditional-norm row "
                        f"alone), then stylises the inputs with it. The row is cached by the painting's content: the next photo "
                        f"with the same painting is instant")
    p.add_argument("--contact-sheet", action="store_true",
                   help="multi-style networks: one image per input with the photo in every style and blends along --line")
    p.add_argument("--line", default=None, metavar="A,B", help="the two styles the contact sheet blends between (default: the first two)")
    p.add_argument("--start", type=float, default=0.0, help="videos: start at this second (default 0)")
    p.add_argument("--duration", type=float, default=None, help="videos: stylise this many seconds only")
    p.add_argument("--max-frames", type=int, default=None, help="videos: stylise this many frames only (to try a piece first)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary; failures are still printed")
    return p


# Bounds on what a command line may ask for (the checkpoint reader's MAX_SIDE and MAX_PAINTING_SIDE for sizes):
# past them a run would allocate without limit. A contact sheet holds a dozen panels of this height.
MAX_SHEET_PANEL = 1024


def _validate(args) -> None:
    check_strength(args.strength)
    if args.stroke_scale is not None:
        args.stroke_scale = check_stroke_scale(args.stroke_scale, "--stroke-scale")
    if args.size is not None and not 1 <= args.size <= MAX_SIDE:
        raise UsageError(f"--size must be a number of pixels from 1 to {MAX_SIDE}, got {args.size}")
    if args.contact_sheet and args.size is not None and args.size > MAX_SHEET_PANEL:
        raise UsageError(f"--size sets the contact sheet's panel height: at most {MAX_SHEET_PANEL} px, got {args.size}")
    if args.style_size is not None and not 16 <= args.style_size <= MAX_PAINTING_SIDE:
        raise UsageError(f"--style-size must be a number of pixels from 16 to {MAX_PAINTING_SIDE}, got {args.style_size}")
    if not math.isfinite(args.start) or (args.duration is not None and not math.isfinite(args.duration)):
        raise UsageError(f"--start and --duration are numbers of seconds, got {args.start} and {args.duration}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    if args.start < 0 or (args.duration is not None and args.duration <= 0) or (args.max_frames is not None and args.max_frames < 1):
        raise UsageError("--start must be >= 0, --duration > 0 and --max-frames >= 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be between 1 and 100, got {args.quality}")
    if args.tile not in ("auto",):
        try:
            args.tile = int(args.tile)
        except ValueError:
            raise UsageError(f"--tile takes a size in pixels, 0 or auto, got {args.tile!r}") from None
    check_tiling(0 if args.tile == "auto" else args.tile, args.overlap, args.stats_size, names=("--tile", "--overlap", "--stats-size"))
    if not args.export and not args.inputs:
        raise UsageError("give at least one INPUT (file, folder or glob), or --export")
    if args.adapt is not None:
        check_adapt(args)


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.list_styles:
        return list_styles(args.ckpt)
    _validate(args)
    if args.adapt is not None:  # a network learns the painting: its own options and checks
        return run_adapt(args, resolve_device(args.device))
    if args.ckpt is None:
        args.ckpt = str(shipped_model(args))
    ckpt = Path(args.ckpt)

    device = resolve_device(args.device)  # absent CUDA: one line, before loading anything
    if file_kind(load_file(ckpt)) == "universal":  # any painting (stylenet.universal): its own options
        from stylenet.cli.infer_universal import run_universal  # here: a network's run never loads the decoders' code

        return run_universal(args, ckpt, device)
    if args.alpha is not None or args.transform is not None or args.palette is not None:
        raise UsageError("--alpha, --transform and --palette need a universal checkpoint; a trained network's strength is --strength")
    net, meta = load_network(ckpt)
    if (meta.get("style") or {}).get("note"):  # a converted pytorch/examples network: what is not known about it
        if not args.quiet:
            print(f"note: {ckpt}: {meta['style']['note']}", file=sys.stderr)
    names = [s["name"] for s in meta.get("styles") or []]
    choice = _style_choice(args, names, meta)
    if args.stroke_scale is not None and (args.export or args.contact_sheet):
        raise UsageError("--stroke-scale is applied around the network when stylising: it is not part of an --export "
                         "and does not apply to --contact-sheet; drop it")
    if args.stroke_scale == "auto" and training_side(meta) is None:  # asked for; the default falls back to 1
        raise UsageError(f"--stroke-scale auto needs the training image size, which {ckpt} does not record; give a number")
    if args.export:  # a multi-style graph takes the style weights as an input: no choice to make
        return run_export(args, net, meta, ckpt)
    if args.contact_sheet:
        return run_contact_sheet(args, Stylizer(net, meta, device=device, half=args.half, backend=args.backend,
                                                threads=args.threads, style=choice or (names[0] if names else None)))

    jobs, failures, out = plan_jobs(args, describe(choice) if names else network_label(meta, ckpt))
    stylizer = Stylizer(net, meta, device=device, half=args.half, backend=args.backend, threads=args.threads, style=choice)
    run_videos(args, stylizer, [j for j in jobs if j.film], failures)
    return run_stylize(args, stylizer, [j for j in jobs if not j.film], failures, str(out))


def list_styles(ckpt: str | None) -> int:
    """--list-styles: a checkpoint's styles, or the shipped ones (stylenet.zoo) and whether they are installed."""
    if ckpt is not None:
        meta = load_file(ckpt)["stylenet"]
        print("\n".join(s["name"] for s in meta.get("styles") or []) if meta.get("styles") else
              "any painting: --style PATH[:WEIGHT]" if file_kind({"stylenet": meta}) == "universal" else (meta.get("style") or {}).get("name"))
        return 0
    for name in zoo.names():
        m = zoo.model(name)
        print("\n".join(m.styles) if m.styles else f"any painting: --style path/to/painting.jpg (the shipped {name} decoder)")
        if not zoo.is_installed(name):
            print(f"  ({name} is not installed: python -m stylenet zoo build {name})")
    return 0


def shipped_model(args) -> Path:
    """No --ckpt: the shipped network for its style names (--style NAME, --mix), the shipped AdaIN decoder for
    painting files (--style PATH); one line when neither fits or the model is not installed."""
    network, decoders = zoo.model(zoo.DEFAULT_NETWORK), zoo.model(zoo.DEFAULT_DECODERS)
    if not args.style and args.mix is None:
        raise UsageError(f"give --ckpt CHECKPOINT, or --style with a shipped style ({', '.join(network.styles)}) "
                         "or a painting file (see --list-styles)")
    if args.mix is not None or all(s in network.styles for s in args.style):
        return zoo.folder(network.name)
    from stylenet.cli.infer_universal import parse_style  # the universal options' parser: only here

    if unknown := [s for s in args.style if s not in network.styles and not Path(parse_style(s)[0]).is_file()]:
        raise UsageError(f"--style {unknown[0]} is neither a shipped style ({', '.join(network.styles)}) nor a painting file")
    return zoo.folder(decoders.name)


def _style_choice(args, names: list[str], meta: dict) -> StyleChoice:
    """``--style NAME`` or ``--mix a:w,b:w`` for a multi-style network (checked against its styles now)."""
    if args.mix is not None and args.style:
        raise UsageError("give --style NAME or --mix NAME:WEIGHT,..., not both")
    if args.style and len(args.style) > 1:
        raise UsageError("one --style NAME for a multi-style network; blend several with --mix a:0.5,b:0.5")
    choice: StyleChoice = parse_mix(args.mix) if args.mix is not None else (args.style[0] if args.style else None)
    if not names:
        if choice is not None:
            own = (meta.get("style") or {}).get("name", "its own")
            raise UsageError(f"--style/--mix choose a painting (universal checkpoint) or a style of a multi-style network; "
                             f"{args.ckpt} holds one style ({own})")
        return None
    if choice is None and (args.export or args.contact_sheet):
        return None
    mix_vector(choice, names)  # unknown names, bad weights, none chosen: one line now, before any work
    return choice


def main(argv: Sequence[str] | None = None) -> int:
    return run_argv(_main, sys.argv[1:] if argv is None else argv, prog="infer.py", usage_code=2)
