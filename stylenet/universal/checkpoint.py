"""The universal decoders' file: written by :class:`~stylenet.training.decoder_module.DecoderModule`, read here.

A Lightning checkpoint (or any ``{"stylenet": meta, "state_dict": ...}`` file) whose meta says
``kind: "universal"``; loaded by :func:`stylenet.networks.checkpoint.load_file` (``weights_only=True``)
and validated by :class:`UniversalMeta`::

    kind: "universal"
    format_version: 1
    encoder: {"network": "vgg19", "weights": "embedded"}   # the VGG the decoders invert; its weights are not stored
    levels: [1, 2, 3, 4, 5]                               # decoders held, as decoders.relu{k}_1.* in state_dict
    width: 0.5                                            # hidden channels against VGG's; written only below 1 (absent: 1.0)
    train: {"image_size": 128, "global_step": 800, "feature_weight": 1.0}

Every decoder's size follows from its level (1..5), the network and the width, all bounded here, and each tensor's
shape is compared with the decoder it must fit before loading: a crafted file cannot make the reader
allocate more than the five decoders (~17 M parameters).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from stylenet.networks.checkpoint import MAX_SIDE, META_KEY, UNIVERSAL_KIND, CheckpointError, _dict, _int, file_kind, load_file
from stylenet.perceptual.vgg import NETWORKS
from stylenet.universal.decoder import LEVELS, MIN_WIDTH, Decoder, is_width, level_layer

FORMAT_VERSION = 1
PREFIX = "decoders."


def train_command(levels) -> str:
    return f"python -m stylenet decoders decoders.levels=[{','.join(str(k) for k in levels)}]"


@dataclass(frozen=True)
class UniversalMeta:
    """``checkpoint["stylenet"]`` of a universal decoders file (see the module docstring)."""

    encoder: dict
    levels: tuple[int, ...]
    train: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    width: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": UNIVERSAL_KIND, "format_version": self.format_version, "encoder": dict(self.encoder),
                "levels": list(self.levels), "train": dict(self.train)} | ({"width": self.width} if self.width != 1.0 else {})

    @classmethod
    def from_dict(cls, meta: Any, source: str = "checkpoint") -> UniversalMeta:
        meta = _dict(meta, META_KEY, source)
        if meta.get("kind") != UNIVERSAL_KIND:
            raise CheckpointError(f"{source} is not a universal decoders file (kind={meta.get('kind')!r}); train one with {train_command(LEVELS)}")
        version = meta.get("format_version")
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise CheckpointError(f"{source} was written by a newer stylenet (universal format {version}); upgrade stylenet")
        version = _int(version, "format_version", 1, FORMAT_VERSION, source)
        encoder = _dict(meta.get("encoder"), "encoder", source)
        network, weights = encoder.get("network"), encoder.get("weights")
        if network not in NETWORKS:
            raise CheckpointError(f"{source}: encoder.network={network!r} is not one of {', '.join(NETWORKS)}; the file is damaged or not stylenet's")
        if not isinstance(weights, str) or not weights or len(weights) > 4096:
            raise CheckpointError(f"{source}: encoder.weights={weights!r} is not a weights name or path; the file is damaged")
        levels = meta.get("levels")
        if not isinstance(levels, list) or not 1 <= len(levels) <= len(LEVELS):
            raise CheckpointError(f"{source}: levels={levels!r} is not a list of 1 to {len(LEVELS)} levels; the file is damaged")
        levels = tuple(sorted({_int(k, "levels[]", 1, len(LEVELS), source) for k in levels}))
        width = meta.get("width", 1.0)
        if not is_width(width):
            raise CheckpointError(f"{source}: width={width!r} is not a decoder width in [{MIN_WIDTH}, 1]; the file is damaged or not stylenet's")
        train = dict(_dict(meta.get("train", {}), "train", source))
        if train.get("image_size") is not None:
            _int(train["image_size"], "train.image_size", 1, MAX_SIDE, source)
        return cls(encoder={"network": network, "weights": weights}, levels=levels, train=train, format_version=version, width=float(width))


def read_universal(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[dict[int, Decoder], UniversalMeta]:
    """The decoders a universal file holds (eval mode) and its validated metadata; one line for anything wrong."""
    ckpt = load_file(path, map_location)
    if file_kind(ckpt) != "universal":
        raise CheckpointError(f"{path} holds a trained style network, not universal decoders; train those with {train_command(LEVELS)}")
    meta = UniversalMeta.from_dict(ckpt[META_KEY], str(path))
    sd = ckpt["state_dict"]
    decoders = {}
    for k in meta.levels:
        prefix = f"{PREFIX}{level_layer(k)}."
        own = {key[len(prefix):]: v for key, v in sd.items() if key.startswith(prefix)}
        if not own:
            raise CheckpointError(f"{path}: the metadata lists level {k} but the file holds no weights for it (relu{k}_1); "
                                  f"the file is damaged: train it again with {train_command([k])}")
        dec = Decoder(k, meta.encoder["network"], meta.width)
        expected = dec.state_dict()
        wrong = [f"{key} {tuple(own[key].shape)} (expected {tuple(v.shape)})" for key, v in expected.items()
                 if key in own and own[key].shape != v.shape]
        missing = [key for key in expected if key not in own]
        if wrong or missing or len(own) != len(expected):
            what = f"tensors of the wrong shape: {wrong[0]}" if wrong else f"missing {missing[:2]}" if missing else "unexpected tensors"
            raise CheckpointError(f"{path}: the level-{k} decoder's weights do not fit it ({what}); the file is damaged or not stylenet's")
        if not all(torch.isfinite(v).all() for v in own.values()):
            raise CheckpointError(f"{path}: the level-{k} decoder holds non-finite weights; train it again with {train_command([k])}")
        dec.load_state_dict(own)
        decoders[k] = dec.eval().requires_grad_(False)
    return decoders, meta


def require_levels(meta: UniversalMeta, needed, path, why: str) -> None:
    """One line naming the first level ``why`` needs that the file lacks, and the command to train it."""
    missing = [k for k in needed if k not in meta.levels]
    if missing:
        raise CheckpointError(
            f"{path} has no decoder for level {missing[0]} (relu{missing[0]}_1), which {why} needs (it holds levels "
            f"{list(meta.levels)}); train it with {train_command(missing)}"
        )
