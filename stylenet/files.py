"""Atomic file writes: every file stylenet produces (checkpoints, exports, images, CSV, markdown).

Write a temporary file beside the target, flush it to disk, then ``os.replace`` it over the target: a
rename within one file system is atomic (POSIX), so a reader, or a run killed with SIGKILL at any moment,
sees the old complete file or the new complete file, never half of one.

``ROOT`` is the repository folder (``conf/``, ``assets/``): here, not in :mod:`stylenet.config`, so the
commands that need no Hydra (infer.py) find the shipped files without importing it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stylenet.errors import StylenetError

ROOT = Path(__file__).resolve().parents[1]

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
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}@{_HOST}-", suffix=f"{path.suffix}.tmp{path.suffix}", dir=path.parent)
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


# atomic_path's names: "." + stem + "." + the writer's pid "@" host + "-" + mkstemp's 8 random characters +
# suffix + ".tmp" + suffix (names from before the pid was added lack "pid@host-"). Matched exactly, because
# leftovers are deleted from folders that also hold the user's own (hidden) files.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]  # a folder may be shared between machines
_TEMPORARY = re.compile(r"\..*\.(?:(\d+)@([0-9a-f]{8})-)?[a-z0-9_]{8}((?:\.[^.]*)?)\.tmp\3")


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks: a file by its content, whatever its name
    (the teacher's cache keys, the paintings a decoder trained on)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_temporary(path: str | os.PathLike) -> bool:
    """A leftover of :func:`atomic_path` (a writer killed before its rename)."""
    return _TEMPORARY.fullmatch(Path(path).name) is not None


def owner_tag() -> str:
    """This process as ``pid@host`` (the host hashed): who holds a temporary file, or a search's running trial."""
    return f"{os.getpid()}@{_HOST}"


def owner_is_gone(tag: str) -> bool:
    """The process of :func:`owner_tag` ran on this machine and is no longer running; False when it cannot be
    told (another machine, a malformed tag)."""
    pid, _, host = str(tag).partition("@")
    if host != _HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # alive but not ours (EPERM), or no such pid number
        return False
    return False


def _writer_is_gone(name: str) -> bool:
    """The temporary's writer ran on this machine and is no longer running (its pid is in the name)."""
    m = _TEMPORARY.fullmatch(name)
    return bool(m and m.group(1) is not None and owner_is_gone(f"{m.group(1)}@{m.group(2)}"))


def remove_stale_temporaries(folder: str | os.PathLike, older_than: float = 600) -> int:
    """Delete :func:`atomic_path` leftovers in ``folder``: at once when their writer (named in the file name) is
    no longer running on this machine, else once untouched for ``older_than`` seconds (a writer still running,
    e.g. another process or machine writing into the same folder, keeps touching its file); returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if (is_temporary(entry.name) and entry.is_file(follow_symlinks=False)
                    and (_writer_is_gone(entry.name) or time.time() - entry.stat(follow_symlinks=False).st_mtime > older_than)):
                os.unlink(entry.path)
                removed += 1
        except OSError:  # gone meanwhile, or not ours to delete: leave it
            pass
    return removed


def not_a_regular_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a file, or None for a regular file. Checked before opening, because
    open() on a FIFO (or some devices) named x.jpg blocks until a writer comes, i.e. forever."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return {errno.ENOENT: "no such file", errno.ELOOP: "a symbolic link loop"}.get(e.errno, e.strerror or str(e))
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket), so it is not read"
    return None


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it takes ``path``'s place (a folder already
    there is moved aside by a rename and then deleted), on any failure it is deleted and ``path`` is left as it
    was. A reader sees the old complete folder or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for f in tmp.iterdir():
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(f, FILE_MODE)  # writers such as mkstemp create 0600 files
        os.chmod(tmp, 0o777 & ~_UMASK)
        old = None
        if path.exists():
            if not path.is_dir():
                raise UnwritableError(f"{path} is a file; give a folder to write into")
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


class UnwritableError(StylenetError, OSError):
    """An output place that cannot be written; found before any work, so none is lost."""


def check_writable_dir(folder: str | os.PathLike, what: str = "output folder", fix: str = "choose another") -> Path:
    """Prove that files can be written in ``folder`` before hours of work go into results that could not be
    saved (checkpoints, the teacher's image, evaluation reports). Nothing is created: a folder that does not
    exist yet is judged by the nearest existing one above it, where mkdir would start. ``what`` names the
    folder in the error (a config key, a flag), ``fix`` says what to do."""
    folder = Path(folder).expanduser()
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UnwritableError(f"cannot write to the {what} {folder}: {probe} is a file, not a folder; {fix}")
    # access(2) also answers for read-only file systems (EROFS), even for root.
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UnwritableError(f"cannot write to the {what} {folder}: {probe} does not let this user write in it; {fix}")
    return folder
