"""Finding the photos: every image file under a folder (training), or the files a command was given
(evaluation, the teacher's callback). Only regular files: a FIFO or device named x.jpg would block a
reader forever, so it is left out with a warning, like a symlink loop; a symlinked folder is entered once."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from stylenet.data.images import is_image_path
from stylenet.errors import StylenetError
from stylenet.files import not_a_regular_file

log = logging.getLogger(__name__)


class DataError(StylenetError, ValueError):
    """The training data cannot be used at all (missing folder, no readable image, bad option); one line."""


def list_images(root: str | os.PathLike) -> tuple[list[str], int]:
    """Every image file under ``root`` (nested folders too), sorted, and the number of other entries ignored.

    Only directory entries are read (os.scandir, no decode, no per-file stat), so COCO's 80k-file train2014
    lists in well under a second. Hidden entries (".DS_Store", macOS "._x.jpg" resource forks, ".git") are
    ignored like non-image files. Symlinked folders are followed once. Image-named entries that are not
    regular files (FIFO, device, socket, symlink loop, broken link) are ignored with a warning.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"image folder {root} does not exist; set data.path to a folder of photos")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; set data.path to a folder of photos")
    images: list[str] = []
    ignored = 0
    seen_dirs = {os.path.realpath(root)}
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError as e:  # e.g. permission denied on one sub-folder: the rest is still usable
            log.warning("cannot list %s (%s); its images are left out", folder, e.strerror or e)
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith("."):
                    ignored += 1
                    continue
                try:
                    is_dir, is_file = entry.is_dir(), entry.is_file()  # file type from the listing: no stat
                except OSError:  # a symlink loop
                    is_dir = is_file = False
                if is_dir:
                    real = os.path.realpath(entry.path) if entry.is_symlink() else entry.path
                    if real not in seen_dirs:  # a symlink loop would otherwise never end
                        seen_dirs.add(real)
                        stack.append(entry.path)
                elif is_file and is_image_path(entry.name):
                    images.append(entry.path)
                else:
                    ignored += 1
                    if is_image_path(entry.name):
                        log.warning("%s is left out: %s", entry.path, not_a_regular_file(entry.path) or "unreadable")
    images.sort()
    return images, ignored


def list_photos(photos: Any) -> list[Path]:
    """``photos=``: a folder (its image files, sorted, not recursive), one file, or a list of files. Entries
    that are not regular files (FIFO, device, socket, symlink loop) are left out with a warning."""
    entries = [photos] if isinstance(photos, (str, Path)) else list(photos)
    out: list[Path] = []
    for e in entries:
        p = Path(str(e)).expanduser()
        if p.is_dir():
            files = sorted(q for q in p.iterdir() if is_image_path(q))
        elif os.path.lexists(p):
            files = [p]
        else:
            raise DataError(f"photos: {p} does not exist; give a folder of photos or image files")
        for q in files:
            why = not_a_regular_file(q)
            if why:
                log.warning("photos: %s is left out: %s", q, why)
            else:
                out.append(q)
    if not out:
        raise DataError(f"photos: no image files ({', '.join(map(str, entries))}); give a folder of photos or image files")
    return out
