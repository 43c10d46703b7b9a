"""Self-describing, safely loaded, atomically written checkpoints.

Two kinds of file hold a stylenet network, both loadable with ``torch.load(weights_only=True)``:

* the Lightning checkpoint train.py writes (``last.ckpt``, ``step=N.ckpt``): the usual Lightning keys
  (optimiser, schedulers, loops, callbacks: everything ``ckpt_path=`` needs to resume) plus
  ``checkpoint["stylenet"]``; its ``state_dict`` holds the transform network under ``net.`` and **no
  VGG weights** (they are dropped on save and are not needed to stylise);
* a light export (``stylenet export`` / :func:`export_weights`): ``{"stylenet": meta, "state_dict": ...}``
  with the network's own keys, a few MB.

``meta`` is plain Python types only::

    {"format_version": 1,
     "arch": {"name": "TransformerNet", "base_channels": 32, "num_residual_blocks": 5},
     "style": {"name": "wave", "image": "assets/styles/wave.jpg", "size": 512},
     "loss": {"network": "vgg16", "weights": "IMAGENET1K_V1", "content_weight": ..., "style_weight": ...,
              "tv_weight": ..., "content_layers": [...], "style_layers": [...], "style_layer_weights": [...],
              "normalize": true, "single_pass": false},   # no "network" (older files): vgg16
     "train": {"image_size": 256, "global_step": 1234}}
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from stylenet.errors import StylenetError, first_line
from stylenet.files import atomic_path
from stylenet.networks.transformer import TransformerNet

FORMAT_VERSION = 1
META_KEY = "stylenet"
NET_PREFIX = "net."


class CheckpointError(StylenetError, ValueError):
    """A file that is not a usable stylenet checkpoint; the message says which and why."""


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, atomically (:func:`stylenet.files.atomic_path`): a run killed at any moment leaves the
    previous complete checkpoint, never half of one."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)  # a file object, so the archive's inner name does not carry the temporary name


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made atomic (Lightning writes the target file in place)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_save(checkpoint, path)


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a stylenet file with ``weights_only=True``; clear one-line errors for everything else."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; give a checkpoint file such as {path / 'last.ckpt'}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weights_only" in str(e).lower():
            raise CheckpointError(
                f"{path} holds objects that are not plain tensors and types; refusing to unpickle it (weights_only=True)"
            ) from None
        raise CheckpointError(f"{path} is not a readable checkpoint (not a torch file)") from None
    except Exception as e:  # truncated zip, plain text, a JPEG renamed .ckpt, ...
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or not a torch file: {first_line(e)})") from None
    if not isinstance(ckpt, dict) or META_KEY not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a stylenet checkpoint (no '{META_KEY}' metadata); train one with train.py")
    meta = ckpt[META_KEY]
    if not isinstance(meta, dict) or meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer stylenet (format {meta.get('format_version')}); upgrade stylenet")
    return ckpt


def network_state_dict(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The transform network's own keys, from either kind of file."""
    sd = ckpt["state_dict"]
    if any(k.startswith(NET_PREFIX) for k in sd):
        sd = {k[len(NET_PREFIX):]: v for k, v in sd.items() if k.startswith(NET_PREFIX)}
    # torch.compile wraps modules as `_orig_mod`; checkpoints must load without it.
    return {k.replace("_orig_mod.", ""): v for k, v in sd.items()}


def build_network(meta: dict[str, Any]) -> TransformerNet:
    arch = dict(meta["arch"])
    name = arch.pop("name", "TransformerNet")
    if name != "TransformerNet":
        raise CheckpointError(f"unknown architecture {name!r} in checkpoint")
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
