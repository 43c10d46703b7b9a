"""The ``infer.py`` command: stylise files, folders and globs with a checkpoint, or export it.

    python infer.py --ckpt checkpoints/wave/last.ckpt photo.jpg                 # → stylized/photo_wave.jpg
    python infer.py --ckpt wave.pt holidays/ -o out/ --ext webp --size 1024     # a folder, recursively
    python infer.py --ckpt wave.pt "scans/*.tif" --tile 1024 --preserve-color   # big images, in tiles
    python infer.py --ckpt wave.pt photo.jpg --stroke-scale auto                 # strokes at the training scale
    python infer.py --ckpt wave.pt --export onnx --export torchscript -o export/
    python infer.py --ckpt checkpoints/universal/last.ckpt --style a.jpg:0.7 --style b.jpg:0.3 photos/  # any painting

Setup problems (missing or foreign checkpoint, bad option, unwritable output, absent CUDA, an output that
would overwrite an input) stop the command with one line and exit code 2 before any work. A file that
cannot be read or written fails alone: the others are processed, the summary lists the failures and
the exit code is 1. Outputs are written atomically; inputs are never overwritten.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from stylenet.cli.entry import run_argv
from stylenet.data import images
from stylenet.data.images import ImageError, atomic_save_image, is_image_path, load_image, long_side_hw, open_image
from stylenet.errors import StylenetError, first_line
from stylenet.files import ROOT, check_writable_dir, not_a_regular_file, remove_stale_temporaries
from stylenet.inference.contact_sheet import contact_sheet
from stylenet.inference.mix import StyleChoice, describe, mix_vector, parse_mix
from stylenet.inference.stroke_scale import (
    DEFAULT_STROKE_SCALE,
    MIN_STROKE_SCALE,
    MIN_WORKING_SIDE,
    StrokeScaleError,
    check_stroke_scale,
    training_side,
    working_size,
)
from stylenet.inference.stylizer import Stylizer, check_strength
from stylenet.inference.tiling import check_tiling
from stylenet.inference.video import OUTPUT_SUFFIXES, VIDEO_EXTENSIONS, VideoError, is_video_path, output_suffix, stylize_video
from stylenet.networks.checkpoint import export_weights, file_kind, load_file, load_network
from stylenet.perceptual.vgg import ImageTooSmallError
from stylenet.runtime import resolve_device

OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}
DEFAULT_OUT = "stylized"
_GLOB_CHARS = set("*?[")


class UsageError(StylenetError, ValueError):
    """A problem with the command line, reported in one line before any work."""


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
    p.add_argument("--ckpt", required=True, help="checkpoint from train.py (.ckpt), an exported weights file, or a pytorch/examples fast_neural_style "
                        "state_dict (.pth/.model; converted on load)")
    p.add_argument("-o", "--output", default=None, help=f"output folder (default ./{DEFAULT_OUT}/), or a file name for one input")
    p.add_argument("--ext", "--format", dest="ext", default=None, choices=sorted(OUTPUT_FORMATS),
                   help="output format (default: the input's if png/jpg/webp, else png)")
    p.add_argument("--size", type=int, default=None, help="resize so the long side is SIZE px (default: keep the size)")
    p.add_argument("--strength", type=float, default=1.0, help="0 = the photo, 1 = fully stylised (default); in between blends")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours, take only the stylised luminance")
    p.add_argument("--stroke-scale", default=None, metavar="S|auto",
                   help=f"strokes S times larger than the network paints at full size: it paints the photo resized by 1/S "
                        f"(long side at least {MIN_WORKING_SIDE} px) and the result is brought back to the photo's size by guided "
                        f"upsampling, which keeps the photo's edges sharp. auto: the scale it was trained at (photo short "
                        f"side / training crop side, at least 1). S from {MIN_STROKE_SCALE:g} (under 1 enlarges the photo "
                        f"first); default {DEFAULT_STROKE_SCALE:g}: the photo as it is. Applied after --size, before "
                        f"--preserve-color and --strength; tiles split the working image. Trained networks only; "
                        f"refused with --export (not part of an exported graph)")
    p.add_argument("--device", default="auto", help="auto (default: CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--half", action=argparse.BooleanOptionalAction, default=None, help="float16 on the GPU (default: on for CUDA)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime"],
                   help="auto (default): onnxruntime on the CPU when installed (faster there), torch otherwise")
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
    p.add_argument("--transform", choices=["wct", "adain"], default=None,
                   help="universal checkpoints: wct (Li et al. 2017, every level; default) or adain (Huang & Belongie 2017, relu4_1)")
    p.add_argument("--style-size", type=int, default=None,
                   help="universal checkpoints: long side of the paintings in px (default: their own size, at most 1024)")
    p.add_argument("--mix", default=None, metavar="A:W,B:W",
                   help="multi-style networks: blend styles by weight, e.g. wave:0.7,udnie:0.3 (--style NAME picks one)")
    p.add_argument("--contact-sheet", action="store_true",
                   help="multi-style networks: one image per input with the photo in every style and blends along --line")
    p.add_argument("--line", default=None, metavar="A,B", help="the two styles the contact sheet blends between (default: the first two)")
    p.add_argument("--start", type=float, default=0.0, help="videos: start at this second (default 0)")
    p.add_argument("--duration", type=float, default=None, help="videos: stylise this many seconds only")
    p.add_argument("--max-frames", type=int, default=None, help="videos: stylise this many frames only (to try a piece first)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary; failures are still printed")
    return p


# ---- inputs and outputs ----------------------------------------------------------------------------
@dataclass
class Job:
    src: Path
    dst: Path


def _real(path: Path) -> Path:
    # os.path.realpath, not Path.resolve: that raises RuntimeError on a symlink loop (Python < 3.13)
    return Path(os.path.realpath(path))


def _is_within(path: Path, folder: Path) -> bool:
    return _real(path).is_relative_to(_real(folder))


def collect_inputs(args: Sequence[str], exclude: Path | None) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """``(file, relative path for the output)`` for every input, and ``(input, reason)`` for those that match
    nothing or are not regular files (a FIFO, device or socket would block the reader; a symlink loop).

    Folders are searched recursively for image files (hidden folders and ``exclude``, the output
    folder, are skipped, so re-running into a sub-folder never stylises earlier results). A file named
    explicitly is taken whatever its extension; a glob keeps only image files.
    """
    found: list[tuple[Path, Path]] = []
    missing: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(path: Path, rel: Path) -> None:
        key = _real(path)
        if key not in seen:
            seen.add(key)
            why = not_a_regular_file(path)
            if why:
                missing.append((str(path), why))
            else:
                found.append((path, rel))

    def add_folder(folder: Path) -> int:
        n = 0
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (exclude and _is_within(Path(root) / d, exclude)))
            for name in sorted(files):
                if (is_image_path(name) or is_video_path(name)) and not name.startswith("."):
                    path = Path(root) / name
                    add(path, path.relative_to(folder))
                    n += 1
        return n

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            if add_folder(path) == 0:
                missing.append((arg, "no image files in this folder"))
        elif _GLOB_CHARS & set(arg) and not os.path.lexists(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            n = 0
            for m in map(Path, matches):
                if m.is_dir():
                    n += add_folder(m)
                elif is_image_path(m) or is_video_path(m):
                    add(m, Path(m.name))
                    n += 1
            if n == 0:
                missing.append((arg, "no image files match"))
        elif os.path.lexists(arg):
            add(path, Path(path.name))
        else:
            missing.append((arg, "no such file or folder"))
    return found, missing


def plan_outputs(found: list[tuple[Path, Path]], out: Path, out_is_file: bool, style: str, ext: str | None) -> list[Job]:
    """One output path per input: ``<out>/<relative folders>/<stem>_<style><ext>``, made unique."""
    jobs: list[Job] = []
    taken: set[Path] = set()
    for src, rel in found:
        if out_is_file:
            dst = out
        else:
            if is_video_path(src):
                suffix = output_suffix(src)
            else:
                suffix = OUTPUT_FORMATS[ext] if ext else (src.suffix.lower() if src.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") else ".png")
            dst = out / rel.parent / f"{rel.stem}_{style}{suffix}"
            n = 2
            base = dst
            while _real(dst) in taken:  # two inputs with the same name (from different folders)
                dst = base.with_name(f"{base.stem}-{n}{base.suffix}")
                n += 1
        taken.add(_real(dst))
        jobs.append(Job(src, dst))
    return jobs


def _style_label(meta: dict, ckpt: Path) -> str:
    name = (meta.get("style") or {}).get("name") or ckpt.stem
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "stylized"


# ---- the two modes ----------------------------------------------------------------------------------
def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, flush=True)


def run_export(args, net, meta, ckpt: Path) -> int:
    from stylenet.inference import export  # onnx loads on first use

    formats = list(dict.fromkeys(args.export))
    out = Path(args.output) if args.output else Path(".")
    single_file = len(formats) == 1 and args.output is not None and bool(out.suffix) and not out.is_dir()
    if len(formats) > 1 and out.suffix and not out.is_dir():
        raise UsageError(f"-o {out} looks like a file name, but {len(formats)} formats are exported; give a folder")
    targets = {}
    for fmt in formats:
        targets[fmt] = out if single_file else out / f"{_style_label(meta, ckpt)}{export.SUFFIXES[fmt]}"
        if _real(targets[fmt]) == _real(ckpt):
            raise UsageError(f"{targets[fmt]} is the checkpoint itself; choose another -o")
    check_writable_dir((out.parent if single_file else out) or Path("."), "output folder (-o)")
    remove_stale_temporaries((out.parent if single_file else out) or Path("."))
    photo_path = _parity_photo(args.inputs)
    photo = load_image(photo_path, size=args.size or 512) if photo_path else None
    for fmt, target in targets.items():
        t0 = time.perf_counter()
        if fmt == "weights":
            export_weights(ckpt, target)
            net2, _ = load_network(target)
            same = all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))
            _say(args.quiet, f"weights → {target} ({target.stat().st_size / 1e6:.1f} MB, reloads {'identically' if same else 'DIFFERENTLY'})")
            if not same:
                return 1
            continue
        if fmt == "onnx":
            export.export_onnx(net, target, meta=meta)
            diff = export.onnx_parity(net, target, photo) if photo is not None else None
        else:
            export.export_torchscript(net, target)
            diff = export.torchscript_parity(net, target, photo) if photo is not None else None
        where = f"on {photo_path} ({photo.shape[-1]}×{photo.shape[-2]})" if photo is not None else "(no photo to check on)"
        _say(args.quiet, f"{fmt} → {target} ({target.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s); "
                         f"max |{fmt} − PyTorch| = {diff:.2e} {where}" if diff is not None else f"{fmt} → {target} {where}")
        if diff is not None and diff > 1e-3:
            print(f"error: {fmt} export differs from PyTorch by {diff:.2e} (> 1e-3); do not use {target}", file=sys.stderr)
            return 1
    return 0


def _parity_photo(inputs: Sequence[str]) -> Path | None:
    """The first input image, else a photo shipped with the repository."""
    found, _ = collect_inputs(inputs, None) if inputs else ([], [])
    if found:
        return found[0][0]
    samples = sorted((ROOT / "assets" / "sample").glob("*.jpg"))
    return samples[0] if samples else None


def run_videos(args, stylizer, jobs: list[Job], failures: list[tuple[str, str]]) -> int:
    """Stylise the videos one after the other (each streams its frames); returns how many were written."""
    done = 0
    for job in jobs:
        try:
            r = stylize_video(stylizer, job.src, job.dst, start=args.start, duration=args.duration, max_frames=args.max_frames,
                              batch_size=args.batch_size or 4, progress=not args.quiet, strength=args.strength,
                              preserve_color=args.preserve_color, stroke_scale=_stroke_scale(args), tile=args.tile,
                              overlap=args.overlap, stats_size=args.stats_size)
        except (VideoError, ImageError, StrokeScaleError) as e:  # a frame size the stroke scale cannot take: this video only
            failures.append((str(job.src), _reason(e, job.src)))
            continue
        done += 1
        _say(args.quiet, f"stylised {job.src} → {job.dst}: {r.frames} frames of {r.width}x{r.height} in {r.seconds:.1f} s "
                         f"({r.frames / r.seconds:.2f} frames/s) [{stylizer.device}, {stylizer.backend}]")
    return done


def run_stylize(args, stylizer, jobs: list[Job], failures: list[tuple[str, str]], out_label: str) -> int:
    """Stylise every job; ``failures`` arrives holding the inputs that matched nothing."""
    batch_size = args.batch_size or (4 if stylizer.device.type == "cuda" else 1)
    window = max(2, 2 * batch_size)  # images decoded ahead of the network
    show_bar = not args.quiet and len(jobs) > 1
    bar = None
    if show_bar:
        bar = tqdm(total=len(jobs), unit="img", file=sys.stderr, dynamic_ncols=True, desc=stylizer.style_label or "stylize")
    done = 0
    total = len(jobs) + len(failures)
    notes: list[str] = []
    t0 = time.perf_counter()
    stroke_scale = _stroke_scale(args)
    kw = dict(size=args.size, strength=args.strength, preserve_color=args.preserve_color, stroke_scale=stroke_scale,
              tile=args.tile, overlap=args.overlap, stats_size=args.stats_size, batch_size=batch_size)
    train_side = training_side(getattr(stylizer, "meta", None))

    def load(job: Job):
        rgb, alpha = open_image(job.src, with_alpha=True)
        h, w = rgb.height, rgb.width
        if args.size:  # the resized image must pass the same pixel limit as a file
            h, w = long_side_hw((h, w), args.size)
            if h * w > images.MAX_PIXELS:
                raise ImageError(f"{job.src}: --size {args.size} makes it {w}x{h} = {h * w:,} pixels, over the "
                                 f"{images.MAX_PIXELS:,}-pixel limit; give a smaller --size")
        try:  # and so must the working image of a stroke scale under 1
            working_size((h, w), stroke_scale, train_side)
        except StrokeScaleError as e:
            raise ImageError(f"{job.src}: {e}") from None
        return rgb, alpha

    def save(img, job: Job) -> None:
        if img.mode == "RGBA" and job.dst.suffix.lower() in (".jpg", ".jpeg"):
            notes.append(f"{job.dst}: JPEG has no alpha channel; transparency dropped (use --ext png or webp)")
        atomic_save_image(img, job.dst, args.quality)

    with ThreadPoolExecutor(max_workers=2) as pool:
        chunks = [jobs[i:i + window] for i in range(0, len(jobs), window)]
        pending: list[Future] = []
        loads = [pool.submit(load, j) for j in chunks[0]] if chunks else []
        try:
            for k, chunk in enumerate(chunks):
                ready = []
                for job, fut in zip(chunk, loads):
                    try:
                        ready.append((job, fut.result()))
                    except ImageError as e:
                        failures.append((str(job.src), _reason(e, job.src)))
                        if bar is not None:
                            bar.update(1)
                loads = [pool.submit(load, j) for j in chunks[k + 1]] if k + 1 < len(chunks) else []
                if ready:
                    try:
                        outs = stylizer.stylize_many([img for _, img in ready], **kw)
                    except (RuntimeError, MemoryError, ImageTooSmallError):  # e.g. out of memory on one huge image,
                        outs = _one_by_one(stylizer, ready, kw, failures)  # or a photo too small for AdaIN: fail only that one
                    for (job, _), out in zip(ready, outs):
                        if out is not None:
                            pending.append((job, pool.submit(save, out, job)))
                for job, fut in pending:
                    try:
                        fut.result()
                        done += 1
                    except OSError as e:
                        failures.append((str(job.src), f"cannot write {job.dst}: {e.strerror or e}"))
                    if bar is not None:
                        bar.update(1)
                pending = []
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)  # only the files being read or written are finished
            if bar is not None:
                bar.close()
            print(f"interrupted: {done} of {len(jobs)} images written to {out_label}", file=sys.stderr)
            return 130
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    for n in dict.fromkeys(notes):
        print(f"note: {n}", file=sys.stderr)
    if not args.quiet and jobs:
        per = f", {1000 * seconds / done:.0f} ms/image" if done else ""
        print(f"stylised {done} of {total} image(s) with {stylizer.style_label or 'the network'} "
              f"in {seconds:.1f} s{per} → {out_label}  [{stylizer.device}, {str(stylizer.dtype).replace('torch.', '')}, {stylizer.backend}"
              + (f"; {stylizer.tiled_images} tiled]" if stylizer.tiled_images else "]"))
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for src, why in failures:
            print(f"  {src}: {why}", file=sys.stderr)
        return 1
    return 0


def _reason(e: Exception, src: Path) -> str:
    """The error's message without a leading copy of the file name (the summary prints it already)."""
    msg = str(e)
    return msg[len(str(src)) + 2:] if msg.startswith(f"{src}: ") else msg


def _one_by_one(stylizer, ready, kw, failures):
    outs = []
    for job, img in ready:
        try:
            outs.append(stylizer.stylize_many([img], **kw)[0])
        except ImageTooSmallError as e:  # its message says what to do
            failures.append((str(job.src), first_line(e)))
            outs.append(None)
        except (RuntimeError, MemoryError) as e:
            size = kw["size"]
            if size and size > max(img[0].size):  # the enlarged image itself does not fit: tiles cannot help
                hint = f"--size {size} enlarges it; give a smaller --size"
            else:
                hint = "try --tile 512 or a smaller --size"
            failures.append((str(job.src), f"{first_line(e)} ({hint})"))
            outs.append(None)
    return outs


# ---- main ---------------------------------------------------------------------------------------------
def _stroke_scale(args):
    return DEFAULT_STROKE_SCALE if args.stroke_scale is None else args.stroke_scale


def _validate(args) -> None:
    check_strength(args.strength)
    if args.stroke_scale is not None:
        args.stroke_scale = check_stroke_scale(args.stroke_scale, "--stroke-scale")
    if args.size is not None and args.size < 1:
        raise UsageError(f"--size must be a positive number of pixels, got {args.size}")
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


def plan_jobs(args, label: str) -> tuple[list[Job], list[tuple[str, str]], Path]:
    """The inputs, their outputs (``<stem>_<label><ext>``) and the inputs that matched nothing; every output
    that cannot be written is refused here, before any work."""
    out = Path(args.output) if args.output else Path(DEFAULT_OUT)
    out_is_file = (args.output is not None and out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", *set(OUTPUT_SUFFIXES.values()))
                   and not out.is_dir())
    found, failures = collect_inputs(args.inputs, exclude=None if out_is_file else out)
    if not found:
        raise UsageError("no images to stylise: " + "; ".join(f"{a}: {why}" for a, why in failures))
    if out_is_file and len(found) > 1:
        raise UsageError(f"-o {out} is a file name but there are {len(found)} images; give a folder")
    jobs = plan_outputs(found, out, out_is_file, label, args.ext)
    inputs = {_real(src): src for src, _ in found}
    for job in jobs:  # every output that cannot be written is found before any work
        if _real(job.dst) in inputs:
            raise UsageError(f"the output {job.dst} would overwrite the input {inputs[_real(job.dst)]}; choose another -o or --ext")
        if job.dst.is_dir():
            raise UsageError(f"the output {job.dst} is a folder; move it away or choose another -o")
        if job.dst.exists() and not os.access(job.dst, os.W_OK):
            raise UsageError(f"the output {job.dst} exists and is read-only; make it writable, remove it or choose another -o")
    for folder in dict.fromkeys(j.dst.parent for j in jobs):
        check_writable_dir(folder, "output folder (-o)")
        remove_stale_temporaries(folder)  # left by a run killed while writing
    return jobs, failures, out


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    _validate(args)
    ckpt = Path(args.ckpt)

    device = resolve_device(args.device)  # absent CUDA: one line, before loading anything
    if file_kind(load_file(ckpt)) == "universal":  # any painting (stylenet.universal): its own options
        from stylenet.cli.infer_universal import run_universal  # imports this module's helpers

        return run_universal(args, ckpt, device)
    if args.alpha is not None or args.transform is not None:
        raise UsageError("--alpha and --transform need a universal checkpoint; a trained network's strength is --strength")
    net, meta = load_network(ckpt)
    if (meta.get("style") or {}).get("note"):  # a converted pytorch/examples network: what is not known about it
        if not args.quiet:
            print(f"note: {ckpt}: {meta['style']['note']}", file=sys.stderr)
    names = [s["name"] for s in meta.get("styles") or []]
    choice = _style_choice(args, names, meta)
    if args.stroke_scale is not None and (args.export or args.contact_sheet):
        raise UsageError("--stroke-scale is applied around the network when stylising: it is not part of an --export "
                         "and does not apply to --contact-sheet; drop it")
    if _stroke_scale(args) == "auto" and training_side(meta) is None:
        raise UsageError(f"--stroke-scale auto needs the training image size, which {ckpt} does not record; give a number")
    if args.export:  # a multi-style graph takes the style weights as an input: no choice to make
        return run_export(args, net, meta, ckpt)
    if args.contact_sheet:
        return run_contact_sheet(args, Stylizer(net, meta, device=device, half=args.half, backend=args.backend,
                                                threads=args.threads, style=choice or (names[0] if names else None)))

    jobs, failures, out = plan_jobs(args, describe(choice) if names else _style_label(meta, ckpt))
    stylizer = Stylizer(net, meta, device=device, half=args.half, backend=args.backend, threads=args.threads, style=choice)
    run_videos(args, stylizer, [j for j in jobs if is_video_path(j.src)], failures)
    return run_stylize(args, stylizer, [j for j in jobs if not is_video_path(j.src)], failures, str(out))


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


def run_contact_sheet(args, stylizer: Stylizer) -> int:
    """One sheet per input image: ``<out>/<stem>_contact.png`` (:func:`stylenet.inference.contact_sheet.contact_sheet`)."""
    line = [n.strip() for n in args.line.split(",")] if args.line else None
    if line is not None and len(line) != 2:
        raise UsageError(f"--line takes two style names, A,B; got {args.line!r}")
    jobs, failures, out = plan_jobs(args, "contact")
    done = 0
    for job in jobs:
        if is_video_path(job.src):
            failures.append((str(job.src), "a contact sheet is made from a photo, not a video"))
            continue
        try:
            rgb, _ = open_image(job.src, with_alpha=True)
            sheet = contact_sheet(stylizer, rgb, line=line, size=args.size or 256)
        except ImageError as e:
            failures.append((str(job.src), _reason(e, job.src)))
            continue
        atomic_save_image(sheet, job.dst.with_suffix(".png") if args.ext is None else job.dst)
        done += 1
        _say(args.quiet, f"contact sheet of {job.src} in {len(stylizer.styles)} styles → {job.dst.with_suffix('.png') if args.ext is None else job.dst}")
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for src, why in failures:
            print(f"  {src}: {why}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_argv(_main, sys.argv[1:] if argv is None else argv, prog="infer.py", usage_code=2)
