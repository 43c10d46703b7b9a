"""infer.py's inputs and outputs: the files, folders and globs named, and one output path per input.

``<out>/<relative folders>/<stem>_<style><ext>``, made unique; every output that cannot be written (it would
overwrite an input, it is a folder or read-only, its folder is not writable) is refused here, before any work.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from stylenet.cli.entry import UsageError
from stylenet.data.images import is_image_path
from stylenet.files import check_writable_dir, not_a_regular_file, remove_stale_temporaries
from stylenet.inference.video import OUTPUT_SUFFIXES, is_film, is_video_path, output_suffix

OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp"}
DEFAULT_OUT = "stylized"
_GLOB_CHARS = set("*?[")


@dataclass
class Job:
    src: Path
    dst: Path
    film: bool = False  # a video to stylise frame by frame (inference.video.is_film), decided once here


def real_path(path: Path) -> Path:
    # os.path.realpath, not Path.resolve: that raises RuntimeError on a symlink loop (Python < 3.13)
    return Path(os.path.realpath(path))


def _is_within(path: Path, folder: Path) -> bool:
    return real_path(path).is_relative_to(real_path(folder))


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
        key = real_path(path)
        if key not in seen:
            seen.add(key)
            why = not_a_regular_file(path)
            if why:
                missing.append((str(path), why))
            else:
                found.append((path, rel))

    def add_folder(folder: Path) -> int:
        n = 0
        def unreadable(e: OSError) -> None:  # os.walk skips a folder it cannot list in silence: report it
            missing.append((str(e.filename), f"cannot read this folder ({e.strerror or e}); its files were skipped"))

        for root, dirs, files in os.walk(folder, onerror=unreadable):
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
    style = safe_label(style)  # every mode names its outputs here: one place keeps them inside `out`
    for src, rel in found:
        film = is_film(src)
        if out_is_file:
            dst = out
        else:
            if film:
                suffix = output_suffix(src)
            else:
                suffix = OUTPUT_FORMATS[ext] if ext else (src.suffix.lower() if src.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") else ".png")
            dst = out / rel.parent / f"{rel.stem}_{style}{suffix}"
            n = 2
            base = dst
            while real_path(dst) in taken:  # two inputs with the same name (from different folders)
                dst = base.with_name(f"{base.stem}-{n}{base.suffix}")
                n += 1
        taken.add(real_path(dst))
        jobs.append(Job(src, dst, film))
    return jobs


def safe_label(label: str) -> str:
    """``label`` as a part of a file name: letters, digits and ``-_.+`` kept, anything else (``/``, ``\\``, ``:``)
    ``_``. Style names come from checkpoints, which anyone can write: ``../x`` must not leave ``-o``."""
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in str(label))[:120] or "stylized"


def network_label(meta: dict, ckpt: Path) -> str:
    """A one-style network's output label: its style's name (else the file's stem), safe in a file name."""
    return safe_label((meta.get("style") or {}).get("name") or ckpt.stem)


IMAGE_OUT = (".png", ".jpg", ".jpeg", ".webp")  # what -o may name for an image
VIDEO_OUT = tuple(sorted(set(OUTPUT_SUFFIXES.values())))  # and for a video
NOT_WRITTEN = (".gif", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".avi", ".webm", ".m4v")  # read, never written


def plan_jobs(args, label: str, image_ext: str | None = None) -> tuple[list[Job], list[tuple[str, str]], Path]:
    """The inputs, their outputs (``<stem>_<label><ext>``) and the inputs that matched nothing; every output
    that cannot be written is refused here, before any work. ``image_ext`` forces the images' format (a contact
    sheet's PNG), so that two outputs never meet under one name after the fact."""
    out = Path(args.output) if args.output else Path(DEFAULT_OUT)
    suffix = out.suffix.lower()
    if args.output is not None and suffix in NOT_WRITTEN and not out.is_dir():
        raise UsageError(f"-o {out}: stylenet reads {suffix} but writes images as {', '.join(IMAGE_OUT)} and videos as "
                         f"{', '.join(VIDEO_OUT)}; name one of those, or a folder")
    out_is_file = args.output is not None and suffix in (*IMAGE_OUT, *VIDEO_OUT) and not out.is_dir()
    found, failures = collect_inputs(args.inputs, exclude=None if out_is_file else out)
    if not found:
        raise UsageError("no images to stylise: " + "; ".join(f"{a}: {why}" for a, why in failures))
    if out_is_file and len(found) > 1:
        raise UsageError(f"-o {out} is a file name but there are {len(found)} images; give a folder")
    jobs = plan_outputs(found, out, out_is_file, label, image_ext or args.ext)
    if out_is_file:
        src, film = jobs[0].src, jobs[0].film
        if film and suffix not in VIDEO_OUT and image_ext is None:
            raise UsageError(f"-o {out} names an image but {src} is a video; name a video ({', '.join(VIDEO_OUT)}) or a folder")
        if not film and suffix not in IMAGE_OUT:
            raise UsageError(f"-o {out} names a video but {src} is an image; name an image ({', '.join(IMAGE_OUT)}) or a folder")
    inputs = {real_path(src): src for src, _ in found}
    for job in jobs:  # every output that cannot be written is found before any work
        if real_path(job.dst) in inputs:
            raise UsageError(f"the output {job.dst} would overwrite the input {inputs[real_path(job.dst)]}; choose another -o or --ext")
        if job.dst.is_dir():
            raise UsageError(f"the output {job.dst} is a folder; move it away or choose another -o")
        if job.dst.exists() and not os.access(job.dst, os.W_OK):
            raise UsageError(f"the output {job.dst} exists and is read-only; make it writable, remove it or choose another -o")
    for folder in dict.fromkeys(j.dst.parent for j in jobs):
        check_writable_dir(folder, "output folder (-o)")
        remove_stale_temporaries(folder)  # left by a run killed while writing
    return jobs, failures, out
