"""``open_stylizer``: any stylenet checkpoint → a stylizer (:class:`~stylenet.inference.protocol.StylizerProtocol`).

    from stylenet import open_stylizer
    s = open_stylizer("checkpoints/wave/last.ckpt")                                    # a trained network
    s = open_stylizer("checkpoints/five/last.ckpt", style={"wave": 0.7, "udnie": 0.3})  # a blend of its styles
    s = open_stylizer("checkpoints/universal/last.ckpt", style="wave.jpg")             # decoders: any painting
    s = open_stylizer("five-paintings", style="starry_night")                         # a shipped model (stylenet.zoo)
    s = open_stylizer("adain", style="wave.jpg", transform="adain")                   # the shipped AdaIN decoder
    out = s(Image.open("photo.jpg"), strength=0.8)

The caller need not know which kind the file holds: its metadata says (:func:`stylenet.networks.checkpoint.file_kind`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from stylenet.inference.mix import StyleChoice
from stylenet.inference.protocol import StylizerProtocol
from stylenet.inference.stylizer import InferenceError, Stylizer
from stylenet.inference.universal_onnx import use_backend
from stylenet.networks.checkpoint import file_kind, load_file
from stylenet.universal.paintings import PaintingStylizer
from stylenet.universal.stylizer import UniversalStylizer
from stylenet.zoo import resolve


def open_stylizer(path: str | os.PathLike, style: Any = None, device: str | torch.device | None = None,
                  **options: Any) -> StylizerProtocol:
    """The stylizer for the checkpoint at ``path`` (a file, a pretrained folder or a shipped model's name), on ``device`` (default ``"auto"``: CUDA, else MPS, else CPU).

    ``style``: for universal decoders (required), a painting (path, PIL image or tensor), a list of them
    (equal weights) or ``{path: weight}``; ``options`` are :class:`PaintingStylizer`'s (``alpha``,
    ``transform``, ``style_size``, ``palette``, ``encoder_weights``) and ``backend``, ``threads``
    (:func:`~stylenet.inference.universal_onnx.use_backend`: onnxruntime on a CPU by default). For a multi-style network, one of its style names or
    ``{name: weight}``; for a one-style network, None; ``options`` are :class:`Stylizer`'s (``half``,
    ``backend``, ``threads``). Every problem is one line (a StylenetError).
    """
    device = "auto" if device is None else device
    path = resolve(path)
    if file_kind(load_file(path)) == "universal":
        if style is None or (isinstance(style, (list, tuple, Mapping)) and not style):
            raise InferenceError(f"{path} holds universal decoders: give the painting to stylise with, "
                                 f"open_stylizer(path, style='painting.jpg')")
        styles, weights = (list(style), list(style.values())) if isinstance(style, Mapping) else (style, None)
        encoder_weights = options.pop("encoder_weights", None)
        decoders = UniversalStylizer.from_checkpoint(path, device=device, encoder_weights=encoder_weights)
        use_backend(decoders, options.pop("backend", "auto"), options.pop("threads", None))
        return PaintingStylizer(decoders, styles, weights, **options)
    choice: StyleChoice = dict(style) if isinstance(style, Mapping) else style
    return Stylizer.from_checkpoint(path, device=device, style=choice, **options)
