"""Self-describing, validated, safely loaded, atomically written checkpoints.

Two kinds of file hold a stylenet network, both loadable with ``torch.load(weights_only=True)``:

* the Lightning checkpoint train.py writes (``last.ckpt``, ``step=N.ckpt``): the usual Lightning keys
  (optimiser, schedulers, loops, callbacks: everything ``ckpt_path=`` needs to resume) plus
  ``checkpoint["stylenet"]``; its ``state_dict`` holds the transform network under ``net.`` and **no
  VGG weights** (they are dropped on save and are not needed to stylise);
* a light export (``infer.py --export weights`` / :func:`export_weights`): ``{"stylenet": meta,
  "state_dict": ...}`` with the network's own keys, a few MB.

``meta`` is :class:`CheckpointMeta` as plain Python types; that class is the one place that writes,
reads, validates and documents it. A file is untrusted input: every number that sizes an allocation is
bounded before a network is built, so a crafted file cannot make the loader allocate tens of GB.

A third form, the pretrained folder (safetensors + config.json + model card, Hugging Face's layout), is
read by :mod:`stylenet.networks.pretrained`; :func:`load_file` takes it wherever it takes a file.

Reading needs no Lightning: the Lightning checkpoint holds only plain types (its hyper-parameters are
plain dicts), so ``torch.load(weights_only=True)`` reads it as it reads any file, and inference never
imports Lightning (:class:`stylenet.training.fit.AtomicCheckpointIO`, the writer, is training's).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError

from stylenet.errors import first_line
from stylenet.files import atomic_path
from stylenet.networks.examples import EXAMPLES, ExamplesFormatError, convert_examples, looks_like_examples
from stylenet.networks.meta import (  # noqa: F401  (re-exported: the names every caller imports from here)
    ARCH_NAME,
    FORMAT_VERSION,
    MAX_BASE_CHANNELS,
    MAX_RESIDUAL_BLOCKS,
    MAX_SIDE,
    MAX_STYLES,
    META_KEY,
    UNIVERSAL_KIND,
    CheckpointError,
    CheckpointMeta,
    _dict,
    _int,
)
from stylenet.networks.pretrained import CONFIG_NAME, WEIGHTS_NAME, is_pretrained_folder, read_pretrained
from stylenet.networks.transformer import TransformerNet

NET_PREFIX = "net."
V1_KEYS = {"encoder.": "downsample.", "decoder.": "upsample."}
WANTED = ("give a .ckpt from train.py, a file from infer.py --export weights, or a pytorch/examples fast_neural_style "
          "state_dict (.pth/.model)")
EXAMPLES_NOTE = (f"converted from a {EXAMPLES} state_dict: the painting and the loss it was trained with are unknown "
                 "(the style is named after the file)")


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, atomically (:func:`stylenet.files.atomic_path`): a run killed at any moment leaves the
    previous complete checkpoint, never half of one."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)  # a file object, so the archive's inner name does not carry the temporary name


def _kind_of_file(path: Path) -> str | None:
    """What a file that cannot be a torch file looks like, or None if it could be one. torch.save writes a
    zip archive ("PK") or, in the legacy format, a pickle (first byte 0x80)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return None
    try:
        with Image.open(path) as im:
            return f"a {im.format} image"
    except (UnidentifiedImageError, OSError):
        return "not a torch file" if head else "an empty file"


def examples_meta(path: Path, arch: dict) -> dict[str, Any]:
    """The metadata of a network converted from pytorch/examples (:mod:`stylenet.networks.examples`): what
    the tensors' shapes say, the file's name as the style's, and a note that the rest is unknown."""
    return CheckpointMeta(arch=arch, style={"name": path.stem, "image": None, "size": None, "note": EXAMPLES_NOTE},
                          loss={}, train={}).to_dict()


def load_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load any stylenet file (a transform network's or the universal decoders', :mod:`stylenet.universal`)
    with ``weights_only=True``, or a pretrained folder (:mod:`stylenet.networks.pretrained`: safetensors): a
    dict with ``"stylenet"`` metadata (not yet validated: that is each kind's
    reader's job) and a ``state_dict`` of named tensors; one clear line for everything else. A bare
    pytorch/examples fast_neural_style state_dict comes back converted (:func:`convert_examples`), with
    :func:`examples_meta`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if is_pretrained_folder(path):  # save_pretrained's folder: safetensors, checked before any tensor is read
        return read_pretrained(path, map_location)
    if path.is_dir():
        inside = path / "pretrained" if is_pretrained_folder(path / "pretrained") else path / "last.ckpt"
        raise CheckpointError(f"{path} is a folder; give a checkpoint file such as {inside}, "
                              f"or a pretrained folder ({CONFIG_NAME} + {WEIGHTS_NAME})")
    if not path.is_file():
        raise CheckpointError(f"{path} is not a regular file; give a checkpoint file")
    kind = _kind_of_file(path)
    if kind is not None:
        what = "a stylenet checkpoint" if kind.endswith("image") else "a readable checkpoint"
        raise CheckpointError(f"{path} is not {what} ({kind}); give a .ckpt from train.py or a file from --export weights")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        # "Unsupported global": a real pickle of objects. Anything else ("Unsupported operand 56", ...) is bytes that
        # only start like a pickle (0x80): damaged or not a torch file, and saying "objects" would mislead.
        if "unsupported global" in str(e).lower():
            raise CheckpointError(
                f"{path} holds objects that are not plain tensors and types; refusing to unpickle it (weights_only=True); {WANTED}"
            ) from None
        raise CheckpointError(f"{path} is not a readable checkpoint (not a torch file)") from None
    except Exception as e:  # truncated zip, a damaged archive, ...
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or not a torch file: {first_line(e)})") from None
    if isinstance(ckpt, dict) and META_KEY not in ckpt and ckpt and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in ckpt.items()):
        # A bare state_dict: pytorch/examples' is the one kind stylenet converts.
        try:
            arch, sd = convert_examples(ckpt)
        except ExamplesFormatError as e:
            what = e if looks_like_examples(ckpt) else (f"its tensors ({', '.join(list(ckpt)[:3])}, ...) are not {EXAMPLES}'s TransformerNet "
                                                              "(conv1.conv2d.weight, in1.weight, ..., deconv3.conv2d.bias)")
            raise CheckpointError(f"{path} is a state_dict without stylenet metadata: {what}; {WANTED}") from None
        return {META_KEY: examples_meta(path, arch), "state_dict": sd}
    if not isinstance(ckpt, dict) or META_KEY not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a stylenet checkpoint (no '{META_KEY}' metadata); {WANTED}")
    _dict(ckpt[META_KEY], META_KEY, str(path))
    sd = _dict(ckpt["state_dict"], "state_dict", str(path))
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        raise CheckpointError(f"{path}: the state_dict holds entries that are not named tensors; the file is damaged")
    return ckpt


def file_kind(ckpt: dict[str, Any]) -> str:
    """``"transformer"`` (a trained TransformerNet, one style or several) or ``"universal"`` (decoders for
    any style, :mod:`stylenet.universal`), from a :func:`load_file` dict's metadata."""
    return "universal" if ckpt[META_KEY].get("kind") == UNIVERSAL_KIND else "transformer"


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a transform network's file with ``weights_only=True`` and validate its metadata
    (:class:`CheckpointMeta`); one clear line for everything else. ``ckpt["stylenet"]`` is the validated
    metadata as a dict."""
    ckpt = load_file(path, map_location)
    if file_kind(ckpt) == "universal":
        raise CheckpointError(f"{path} holds universal decoders, not a trained network: stylise with "
                              "infer.py --ckpt FILE --style PAINTING.jpg")
    ckpt[META_KEY] = CheckpointMeta.from_dict(ckpt[META_KEY], str(path)).to_dict()
    sd = ckpt["state_dict"]
    if ckpt[META_KEY]["format_version"] == 1:  # from here on it holds today's keys: say so
        ckpt["state_dict"] = upgrade_v1_keys(sd)
        ckpt[META_KEY]["format_version"] = FORMAT_VERSION
    return ckpt


def upgrade_v1_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Format 1's TransformerNet keys (``[net.]encoder.*``, ``[net.]decoder.*``) under today's names."""
    out = {}
    for k, v in sd.items():
        prefix, rest = (NET_PREFIX, k[len(NET_PREFIX):]) if k.startswith(NET_PREFIX) else ("", k)
        for old, new in V1_KEYS.items():
            if rest.startswith(old):
                rest = new + rest[len(old):]
        out[prefix + rest] = v
    return out


def network_state_dict(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The transform network's own keys, from either kind of file."""
    sd = ckpt["state_dict"]
    if any(k.startswith(NET_PREFIX) for k in sd):
        sd = {k[len(NET_PREFIX):]: v for k, v in sd.items() if k.startswith(NET_PREFIX)}
    # torch.compile wraps modules as `_orig_mod`; checkpoints must load without it.
    return {k.replace("_orig_mod.", ""): v for k, v in sd.items()}


def build_network(meta: dict[str, Any]) -> TransformerNet:
    """The (untrained) network a validated ``meta`` describes."""
    arch = dict(meta["arch"])
    arch.pop("name", None)
    return TransformerNet(**arch)


def load_network(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[TransformerNet, dict[str, Any]]:
    """Rebuild the transform network from a checkpoint alone. Returns ``(net in eval mode, meta)``."""
    ckpt = read_checkpoint(path, map_location)
    meta = ckpt[META_KEY]
    net = build_network(meta)
    try:
        net.load_state_dict(network_state_dict(ckpt))
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not match the architecture {meta['arch']} ({str(e).splitlines()[0]})") from None
    return net.eval(), meta


def export_weights(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write the light file (metadata + network weights, no optimiser) for ``src``."""
    ckpt = read_checkpoint(src)
    atomic_save({META_KEY: ckpt[META_KEY], "state_dict": network_state_dict(ckpt)}, dst)
    return Path(dst)
