"""infer.py's work once the command is checked: images in batches, videos, exports, contact sheets.

A file that cannot be read or written fails alone: the others are processed, the summary lists the failures
and the exit code is 1. Any stylizer of :class:`stylenet.inference.protocol.StylizerProtocol` can be run.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from stylenet.cli.entry import UsageError
from stylenet.cli.infer_jobs import Job, collect_inputs, network_label, plan_jobs, real_path
from stylenet.data import images
from stylenet.data.images import ImageError, atomic_save_image, load_image, long_side_hw, open_image
from stylenet.errors import first_line
from stylenet.files import ROOT, check_writable_dir, remove_stale_temporaries
from stylenet.inference.contact_sheet import contact_sheet
from stylenet.inference.protocol import StylizerProtocol
from stylenet.inference.stroke_scale import DEFAULT_STROKE_SCALE, StrokeScaleError
from stylenet.inference.stylizer import Stylizer
from stylenet.inference.video import VideoError, stylize_video
from stylenet.networks.checkpoint import export_weights, load_network
from stylenet.perceptual.vgg import ImageTooSmallError


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
        targets[fmt] = out if single_file else out / f"{network_label(meta, ckpt)}{export.SUFFIXES[fmt]}"
        if real_path(targets[fmt]) == real_path(ckpt):
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


def run_videos(args, stylizer: StylizerProtocol, jobs: list[Job], failures: list[tuple[str, str]]) -> int:
    """Stylise the videos one after the other (each streams its frames); returns how many were written."""
    done = 0
    for job in jobs:
        try:
            r = stylize_video(stylizer, job.src, job.dst, start=args.start, duration=args.duration, max_frames=args.max_frames,
                              size=args.size, batch_size=args.batch_size or 4, progress=not args.quiet, strength=args.strength,
                              preserve_color=args.preserve_color, stroke_scale=stroke_scale_of(args), tile=args.tile,
                              overlap=args.overlap, stats_size=args.stats_size)
        except (VideoError, ImageError, StrokeScaleError) as e:  # a frame size the stroke scale cannot take: this video only
            failures.append((str(job.src), _reason(e, job.src)))
            continue
        done += 1
        _say(args.quiet, f"stylised {job.src} → {job.dst}: {r.frames} frames of {r.width}x{r.height} in {r.seconds:.1f} s "
                         f"({r.frames / r.seconds:.2f} frames/s) [{stylizer.device}, {stylizer.backend}]")
        if r.resized:
            print(f"note: {job.src}: its resolution changes midway; {r.resized} frames were resized to {r.width}x{r.height}",
                  file=sys.stderr)
    return done


def run_stylize(args, stylizer: StylizerProtocol, jobs: list[Job], failures: list[tuple[str, str]], out_label: str) -> int:
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
    stroke_scale = stroke_scale_of(args)
    kw = dict(size=args.size, strength=args.strength, preserve_color=args.preserve_color, stroke_scale=stroke_scale,
              tile=args.tile, overlap=args.overlap, stats_size=args.stats_size, batch_size=batch_size)

    def load(job: Job):
        rgb, alpha = open_image(job.src, with_alpha=True)
        h, w = rgb.height, rgb.width
        if args.size:  # the resized image must pass the same pixel limit as a file
            h, w = long_side_hw((h, w), args.size)
            if h * w > images.MAX_PIXELS:
                raise ImageError(f"{job.src}: --size {args.size} makes it {w}x{h} = {h * w:,} pixels, over the "
                                 f"{images.MAX_PIXELS:,}-pixel limit; give a smaller --size")
        try:  # and so must the working image of a stroke scale under 1
            stylizer.working_size((h, w), stroke_scale)
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
            elif isinstance(stylizer, Stylizer):  # a trained network tiles big images
                hint = "try --tile 512 or a smaller --size"
            else:  # universal decoders never tile (WCT and AdaIN need the whole image's statistics)
                hint = "give a smaller --size"
            failures.append((str(job.src), f"{first_line(e)} ({hint})"))
            outs.append(None)
    return outs


def stroke_scale_of(args):
    return DEFAULT_STROKE_SCALE if args.stroke_scale is None else args.stroke_scale


def run_contact_sheet(args, stylizer: Stylizer) -> int:
    """One sheet per input image: ``<out>/<stem>_contact.png`` (:func:`stylenet.inference.contact_sheet.contact_sheet`)."""
    line = [n.strip() for n in args.line.split(",")] if args.line else None
    if line is not None and (len(line) != 2 or line[0] == line[1]):
        raise UsageError(f"--line takes two different style names, A,B; got {args.line!r}")
    jobs, failures, out = plan_jobs(args, "contact", image_ext=args.ext or "png")  # a sheet is a PNG unless --ext says
    done = 0
    for job in jobs:
        if job.film:
            failures.append((str(job.src), "a contact sheet is made from a photo, not a video"))
            continue
        try:
            rgb, _ = open_image(job.src, with_alpha=True)
            sheet = contact_sheet(stylizer, rgb, line=line, size=args.size or 256)
        except ImageError as e:
            failures.append((str(job.src), _reason(e, job.src)))
            continue
        atomic_save_image(sheet, job.dst)
        done += 1
        _say(args.quiet, f"contact sheet of {job.src} in {len(stylizer.styles)} styles → {job.dst}")
    if failures:
        print(f"{len(failures)} failed:", file=sys.stderr)
        for src, why in failures:
            print(f"  {src}: {why}", file=sys.stderr)
    return 1 if failures else 0

