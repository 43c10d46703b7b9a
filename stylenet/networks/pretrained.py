"""The pretrained folder (Hugging Face's layout), read safely: what ``save_pretrained`` writes.

    folder/
      model.safetensors   the weights only (float32, or float16 with ``half=True``; loaded back as float32)
      config.json         the checkpoint's validated metadata (CheckpointMeta / UniversalMeta ``.to_dict()``)
                          + "format": "stylenet-pretrained", "pretrained_version", "dtype"
      README.md           the model card (YAML front matter for the Hub, then the paintings, photos, command...)

:func:`read_pretrained` returns what :func:`stylenet.networks.checkpoint.load_file` returns for a ``.ckpt``
(``{"stylenet": meta, "state_dict": ...}``), so every reader of a file accepts a folder. A folder is untrusted
input: safetensors only (no pickle); config.json is bounded in size, parsed as JSON, its keys and types
checked and its numbers bounded (:class:`CheckpointMeta`); the weights' header (8-byte length, then JSON) is
read with a bound and every tensor's name, shape, dtype and byte range compared with what the config's
network needs, all before a tensor is read. Anything wrong is one :class:`CheckpointError` line.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from stylenet.files import not_a_regular_file
from stylenet.networks.meta import FORMAT_VERSION, META_KEY, UNIVERSAL_KIND, CheckpointError, CheckpointMeta, _int
from stylenet.networks.transformer import TransformerNet

WEIGHTS_NAME, CONFIG_NAME, CARD_NAME = "model.safetensors", "config.json", "README.md"
FILES = (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME)  # exactly what a folder holds (and what the Hub is sent)
FORMAT_NAME = "stylenet-pretrained"
PRETRAINED_VERSION = 1
DTYPES = {"float32": ("F32", torch.float32), "float16": ("F16", torch.float16)}  # config "dtype" → safetensors code
OWN_KEYS = ("format", "pretrained_version", "dtype")  # config.json's keys beside the metadata
META_KEYS = {"transformer": {"format_version", "arch", "style", "styles", "loss", "train"},
             "universal": {"kind", "format_version", "encoder", "levels", "width", "train"}}
MAX_CONFIG_BYTES = 1 << 20  # a 1024-style network's config is ~200 kB
MAX_HEADER_BYTES = 1 << 20  # safetensors' JSON header: ~100 bytes per tensor, a network has a few hundred
ITEM_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
# The universal decoders' tensors per level, at most (VGG19's decoders; VGG16's are smaller): the reader here
# bounds them, stylenet.universal.checkpoint.read_universal then checks each shape against its Decoder.
UNIVERSAL_LEVEL_PARAMS = {1: 1_732, 2: 112_452, 3: 555_076, 4: 3_505_220, 5: 12_944_452}


def is_pretrained_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in (CONFIG_NAME, WEIGHTS_NAME))


def _refuse(source: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{source}: {why}; refusing the pretrained folder")


def _file(folder: Path, name: str) -> Path:
    path = folder / name
    why = not_a_regular_file(path)
    if why == "no such file":
        raise CheckpointError(f"{folder} has no {name}; a pretrained folder holds {', '.join(FILES)} (save_pretrained writes them)")
    if why:
        raise _refuse(path, why)
    return path


def read_config(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """config.json → (its own keys: format, version, dtype; the metadata), bounded and checked."""
    path = _file(folder, CONFIG_NAME)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise _refuse(path, f"{size} bytes, more than any stylenet config ({MAX_CONFIG_BYTES})")
    try:
        config = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _refuse(path, f"not JSON ({type(e).__name__})") from None
    if not isinstance(config, dict):
        raise _refuse(path, f"a JSON {type(config).__name__}, not an object")
    if config.get("format") != FORMAT_NAME:
        raise _refuse(path, f"format={config.get('format')!r}, not {FORMAT_NAME!r} (not written by stylenet's save_pretrained)")
    version = config.get("pretrained_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > PRETRAINED_VERSION:
        raise CheckpointError(f"{path} was written by a newer stylenet (pretrained format {version}); upgrade stylenet")
    _int(version, "pretrained_version", 1, PRETRAINED_VERSION, str(path))
    if config.get("dtype") not in DTYPES:
        raise _refuse(path, f"dtype={config.get('dtype')!r} is not one of {', '.join(DTYPES)}")
    meta = {k: v for k, v in config.items() if k not in OWN_KEYS}
    kind = "universal" if meta.get("kind") == UNIVERSAL_KIND else "transformer"
    if extra := sorted(set(meta) - META_KEYS[kind]):
        raise _refuse(path, f"unknown keys {extra}")
    return {k: config[k] for k in OWN_KEYS}, meta


def expected_tensors(meta: dict[str, Any], source: str) -> dict[str, tuple[int, ...]] | None:
    """Each tensor's name and shape a transformer's metadata implies (the network built on the meta device: no
    memory), after :class:`CheckpointMeta`'s bounds; None for universal decoders (bounded per level instead)."""
    if meta.get("kind") == UNIVERSAL_KIND:
        levels = meta.get("levels")
        if not isinstance(levels, list) or not 1 <= len(levels) <= len(UNIVERSAL_LEVEL_PARAMS):
            raise CheckpointError(f"{source}: levels={levels!r} is not a list of 1 to {len(UNIVERSAL_LEVEL_PARAMS)} levels")
        for k in levels:
            _int(k, "levels[]", 1, len(UNIVERSAL_LEVEL_PARAMS), source)
        return None
    checked = CheckpointMeta.from_dict(meta, source)
    if checked.format_version != FORMAT_VERSION:
        raise CheckpointError(f"{source}: format_version={checked.format_version}; save_pretrained writes {FORMAT_VERSION}")
    arch = {k: v for k, v in checked.arch.items() if k != "name"}
    with torch.device("meta"):
        net = TransformerNet(**arch)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def read_header(path: Path, source: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The safetensors header ({name: (dtype, shape)}), read with a bound; every tensor's bytes must lie in
    the file and match its dtype and shape, so the file is as large as what it asks to allocate."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _refuse(path, "too short to be a safetensors file")
        n = int.from_bytes(head, "little")
        if n > MAX_HEADER_BYTES or 8 + n > size:
            raise _refuse(path, f"a header of {n} bytes (the file has {size}; at most {MAX_HEADER_BYTES}): not a safetensors file or damaged")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refuse(path, "its header is not JSON: not a safetensors file or damaged") from None
    if not isinstance(header, dict):
        raise _refuse(path, "its header is not a JSON object")
    header.pop("__metadata__", None)
    data, out = size - 8 - n, {}
    for name, entry in header.items():
        ok = isinstance(entry, dict) and isinstance(entry.get("dtype"), str) and isinstance(entry.get("shape"), list)
        shape, offsets = (entry.get("shape"), entry.get("data_offsets")) if ok else (None, None)
        ok = ok and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape)
        ok = ok and isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        if not ok or entry["dtype"] not in ITEM_BYTES:
            raise _refuse(path, f"tensor {name!r} has a malformed header entry")
        a, b = offsets
        if not 0 <= a <= b <= data or b - a != math.prod(shape) * ITEM_BYTES[entry["dtype"]]:
            raise _refuse(path, f"tensor {name!r}'s bytes [{a}, {b}) do not fit its shape {shape} or lie outside the file")
        out[name] = (entry["dtype"], tuple(shape))
    return out


def check_weights(header: dict[str, tuple[str, tuple[int, ...]]], expected: dict | None, meta: dict, code: str, source: str) -> None:
    """The header against what the config needs: names, shapes and dtype exactly (a network), or names per
    level and a bound per level (universal decoders)."""
    if wrong := next((n for n, (dt, _) in header.items() if dt != code), None):
        raise CheckpointError(f"{source}: tensor {wrong!r} is {header[wrong][0]}, but config.json says the weights are {code}")
    if expected is not None:
        missing, extra = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
        if missing or extra:
            what = f"missing {missing[:2]}" if missing else f"unexpected {extra[:2]}"
            raise CheckpointError(f"{source}: the weights do not match the architecture in config.json ({what})")
        if bad := next((n for n in expected if header[n][1] != expected[n]), None):
            raise CheckpointError(f"{source}: tensor {bad!r} has shape {list(header[bad][1])}; the config's architecture needs {list(expected[bad])}")
        return
    counts = {k: 0 for k in meta["levels"]}
    for name, (_, shape) in header.items():
        level = next((k for k in counts if name.startswith(f"decoders.relu{k}_1.")), None)
        if level is None:
            raise CheckpointError(f"{source}: tensor {name!r} belongs to no decoder level in config.json ({meta['levels']})")
        counts[level] += math.prod(shape)
        if counts[level] > UNIVERSAL_LEVEL_PARAMS[level]:
            raise CheckpointError(f"{source}: the level-{level} decoder's tensors exceed {UNIVERSAL_LEVEL_PARAMS[level]} values; "
                                  "the weights do not match config.json")


def read_pretrained(folder: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A pretrained folder → ``{"stylenet": meta, "state_dict": float32 tensors, "pretrained": {dtype, folder}}``,
    everything checked before a tensor is read (module docstring)."""
    folder = Path(folder)
    own, meta = read_config(folder)
    source = str(folder / CONFIG_NAME)
    expected = expected_tensors(meta, source)
    weights = _file(folder, WEIGHTS_NAME)
    code = DTYPES[own["dtype"]][0]
    check_weights(read_header(weights, str(weights)), expected, meta, code, str(weights))
    try:
        sd = safetensors.torch.load_file(str(weights), device="cpu")
    except Exception as e:  # noqa: BLE001 - a damaged file past its header: one line
        raise _refuse(weights, f"unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    sd = {k: v.float().to(map_location) for k, v in sd.items()}
    return {META_KEY: meta, "state_dict": sd, "pretrained": {"dtype": own["dtype"], "folder": str(folder)}}
