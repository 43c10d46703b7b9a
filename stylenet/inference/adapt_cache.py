"""The rows :mod:`stylenet.inference.adapt` learns, cached by content: the same painting on the same network
with the same settings is learned once, and every later photo is stylised at once.

Key: SHA-256 of the painting file's bytes, the base network's weights (:func:`weights_digest`) and its loss,
the training photos' bytes and every adaptation setting (budget in seconds, step cap, seed, learning rate,
batch, crop and painting size, start): never a file name, so a painting renamed is found again and a file
overwritten under the same name is learned anew. Value: the new style's scale and shift of every conditional
instance norm, float32, as a safetensors file (no pickle) ``<folder>/<key>.safetensors``, written atomically,
with the key and what the learning did in its metadata.

The folder: ``$STYLENET_CACHE/adapt`` when ``STYLENET_CACHE`` is set, else ``$XDG_CACHE_HOME/stylenet/adapt``,
else ``~/.cache/stylenet/adapt``. A cached file is never trusted blindly: one that is not a safetensors file,
holds another key, other tensor names, shapes or dtypes, or a value that is not finite is ignored with a
warning and the row is learned again (and the file replaced). A cache that cannot be written costs a warning,
not the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from stylenet.files import atomic_path, not_a_regular_file, remove_stale_temporaries

CACHE_ENV = "STYLENET_CACHE"
FORMAT = "stylenet-adapt"
VERSION = "1"
MAX_FILE_BYTES = 16 << 20  # a full-width network's row is 13 KB; anything near this is not one of ours

log = logging.getLogger(__name__)

Row = dict[str, tuple[torch.Tensor, torch.Tensor]]  # conditional norm's module name → (scale C, shift C)


def cache_root() -> Path:
    """stylenet's cache: ``$STYLENET_CACHE``, else ``$XDG_CACHE_HOME/stylenet``, else ``~/.cache/stylenet``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "stylenet"


def default_folder() -> Path:
    return cache_root() / "adapt"


def bytes_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_digest(paths: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over the files' bytes, in the order given (their names take no part)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def weights_digest(net: nn.Module) -> str:
    """SHA-256 of a network's tensors (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for name, t in sorted(net.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def cache_key(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(parts), sort_keys=True, default=str).encode()).hexdigest()


class RowCache:
    """Learned rows under ``folder`` (default :func:`default_folder`), one safetensors file per key."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder).expanduser() if folder is not None else default_folder()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def get(self, key: str, channels: Mapping[str, int]) -> tuple[Row, dict[str, str]] | None:
        """The row cached under ``key`` for norms of ``channels`` ({module name: C}) and its metadata; None when
        absent, or (with a warning) when the file is not exactly such a row."""
        path = self.path(key)
        if not os.path.lexists(path):
            return None
        try:
            return _read(path, key, channels)
        except _Unusable as e:
            log.warning("the cached row %s is ignored (%s); learning it again", path, e)
            return None

    def put(self, key: str, row: Row, info: Mapping[str, Any]) -> Path | None:
        """Write ``row`` atomically; a cache that cannot be written is a warning, not an error."""
        path = self.path(key)
        tensors = {}
        for name, (scale, shift) in row.items():
            tensors[f"{name}.scale"] = scale.detach().float().cpu().contiguous()
            tensors[f"{name}.shift"] = shift.detach().float().cpu().contiguous()
        meta = {"format": FORMAT, "version": VERSION, "key": key, **{k: str(v) for k, v in info.items()}}
        try:
            with atomic_path(path) as tmp:
                safetensors.torch.save_file(tensors, str(tmp), metadata=meta)
        except OSError as e:
            log.warning("cannot write the learned row to the cache %s (%s); it will be learned again next time",
                        path, e.strerror or e)
            return None
        remove_stale_temporaries(self.folder)
        return path


class _Unusable(Exception):
    """Why a cached file is not used."""


def _read(path: Path, key: str, channels: Mapping[str, int]) -> tuple[Row, dict[str, str]]:
    why = not_a_regular_file(path)
    if why:
        raise _Unusable(why)
    try:
        with open(path, "rb") as f:  # read once, bounded: what is checked is what is used
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise _Unusable(f"unreadable: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise _Unusable(f"over {MAX_FILE_BYTES:,} bytes")
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n].decode("utf-8")) if len(data) >= 8 and 8 + n <= len(data) else None
        tensors = safetensors.torch.load(data)
    except Exception as e:  # noqa: BLE001 - whatever the bytes are, they are not a row
        raise _Unusable(f"not a safetensors file: {type(e).__name__}") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise _Unusable(f"not a {FORMAT} file of version {VERSION}")
    if meta.get("key") != key:
        raise _Unusable("it holds the row of another painting or setting")
    expected = {f"{m}.{p}": c for m, c in channels.items() for p in ("scale", "shift")}
    if set(tensors) != set(expected):
        raise _Unusable("its tensors are not the norms of this network")
    for name, t in tensors.items():
        if t.dtype != torch.float32 or tuple(t.shape) != (expected[name],):
            raise _Unusable(f"{name} is {str(t.dtype).replace('torch.', '')} {list(t.shape)}, not float32 [{expected[name]}]")
        if not bool(torch.isfinite(t).all()):
            raise _Unusable(f"{name} holds values that are not finite")
    return {m: (tensors[f"{m}.scale"], tensors[f"{m}.shift"]) for m in channels}, meta
