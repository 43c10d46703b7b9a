"""Atomic writes for the non-torch files stylenet produces (images, CSV, markdown).

Same recipe as :func:`stylenet.checkpoint.atomic_save`: write a temporary file beside the target, then
``os.replace`` it over the target (atomic on POSIX within one file system), so an interrupted run
leaves either the previous file or the new one, never half an image or half a table.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from PIL import Image

from stylenet.images import save_image


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_save_image(x: torch.Tensor | Image.Image, path: str | os.PathLike) -> Path:
    """:func:`stylenet.images.save_image` (format from the extension), written atomically."""
    path = Path(path)
    tmp = _temp_beside(path)  # keeps the extension, so Pillow picks the right format
    try:
        save_image(x, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
