"""What runs the VGG encoder and the decoders of a :class:`~stylenet.universal.stylizer.UniversalStylizer`.

A runner is the stylizer's one seam to a runtime: :meth:`TorchRunner.bind` is called once per stylisation with
the paintings and settings of that call, and gives back the two functions the coarse-to-fine loop needs,
``encode(image, layer)`` (relu{k}_1 features of a padded B×3×H×W image in [0, 1]) and ``decode(level, features)``
(pixels, clamped to [0, 1]). PyTorch is the default; onnxruntime, in float32 or int8, is
:class:`stylenet.inference.universal_onnx.OnnxRunner` (one layer up, where the exporter lives). ``bind`` takes the
call's settings because an int8 runner calibrates its decoders on the features this painting produces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import torch
from torch import nn

from stylenet.universal.style_set import StyleSet

Encode = Callable[[torch.Tensor, str], torch.Tensor]
Decode = Callable[[int, torch.Tensor], torch.Tensor]


class Modules(Protocol):
    """What a runner reads from its stylizer (:class:`~stylenet.universal.stylizer.UniversalStylizer`)."""

    encoder: nn.Module
    decoders: Mapping[int, nn.Module]


class Runner(Protocol):
    name: str

    def bind(self, styles: StyleSet, *, alpha: float, transform: str, palette: str | None) -> tuple[Encode, Decode]: ...


class TorchRunner:
    """The stylizer's own PyTorch modules, on its device."""

    name = "torch"

    def __init__(self, stylizer: Modules):
        self.stylizer = stylizer

    def bind(self, styles: StyleSet, *, alpha: float, transform: str, palette: str | None) -> tuple[Encode, Decode]:
        encoder, decoders = self.stylizer.encoder, self.stylizer.decoders
        return (lambda x, layer: encoder(x, layers=[layer])[layer]), (lambda level, f: decoders[level](f))


class Recorder:
    """A :class:`TorchRunner` that keeps every input it is given, per graph: what an int8 runner calibrates on."""

    name = "torch"

    def __init__(self, stylizer: Modules):
        self.torch = TorchRunner(stylizer)
        self.encoded: dict[str, list[torch.Tensor]] = {}
        self.decoded: dict[int, list[torch.Tensor]] = {}

    def bind(self, styles: StyleSet, *, alpha: float, transform: str, palette: str | None) -> tuple[Encode, Decode]:
        encode, decode = self.torch.bind(styles, alpha=alpha, transform=transform, palette=palette)

        def enc(x: torch.Tensor, layer: str) -> torch.Tensor:
            self.encoded.setdefault(layer, []).append(x.detach().cpu())
            return encode(x, layer)

        def dec(level: int, f: torch.Tensor) -> torch.Tensor:
            self.decoded.setdefault(level, []).append(f.detach().cpu())
            return decode(level, f)

        return enc, dec
