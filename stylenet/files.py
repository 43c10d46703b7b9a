"""Atomic file writes: every file stylenet produces (checkpoints, exports, images, CSV, markdown).

Write a temporary file beside the target, flush it to disk, then ``os.replace`` it over the target: a
rename within one file system is atomic (POSIX), so a reader, or a run killed with SIGKILL at any moment,
sees the old complete file or the new complete file, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# mkstemp creates 0600 files; outputs get the usual permissions (0666 minus the umask). The umask is read
# once, at import, because reading it means setting it, which is not thread-safe later.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same extension, so writers that go by it still work);
    on success it replaces ``path``, on any failure it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f"{path.suffix}.tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # the data must be on disk before the rename makes it visible
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def is_temporary(path: str | os.PathLike) -> bool:
    """A leftover of :func:`atomic_path` (a writer killed before its rename)."""
    name = Path(path).name
    return name.startswith(".") and ".tmp" in name


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_save_image(x, path: str | os.PathLike, quality: int = 95) -> Path:
    """:func:`stylenet.data.images.save_image` (format from the extension), written atomically."""
    from stylenet.data.images import save_image

    with atomic_path(path) as tmp:
        save_image(x, tmp, quality=quality)
    return Path(path)
