"""StyleSet: the paintings of a universal stylisation, encoded once and reused for every photo."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import torch

from stylenet.perceptual.color import mix_color_stats
from stylenet.universal.transforms import PREPARE, AdainStyle, WctStyle


@dataclass
class StyleSet:
    """Paintings encoded once (features at every level), reused for every photo."""

    names: list[str]
    features: list[dict[str, torch.Tensor]]
    weights: list[float]
    colors: list[tuple[torch.Tensor, torch.Tensor]]  # each painting's RGB mean and covariance
    _prepared: dict[tuple[str, str, str], list] = field(default_factory=dict, init=False, repr=False, compare=False)

    def for_transform(self, layer: str, transform: str, device: torch.device) -> list[torch.Tensor | WctStyle | AdainStyle]:
        """Each painting's ``layer`` features as ``transform`` takes them, on ``device``, computed on the first
        photo and kept: for WCT their mean and colouring matrix (the painting's covariance at relu1_1 of a
        1024 px painting was about a second of every photo's time), for AdaIN each channel's mean and deviation,
        else the features themselves."""
        prepare = PREPARE.get(transform)
        if prepare is None:
            return [f[layer].to(device) for f in self.features]
        key = (layer, transform, str(device))
        if key not in self._prepared:
            self._prepared[key] = [prepare(f[layer].to(device)) for f in self.features]
        return self._prepared[key]

    @functools.cached_property
    def key(self) -> str:
        """SHA-256 of the features and weights: what an int8 runner keeps its calibration under. Computed when
        first asked (a painting's relu1_1 at 1024 px is 200 MB): the PyTorch path never asks."""
        digest = hashlib.sha256(repr(self.weights).encode())
        for f in self.features:
            for layer in sorted(f):
                digest.update(layer.encode() + f[layer].numpy().tobytes())
        return digest.hexdigest()

    def palette(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The paintings' RGB mean and covariance, mixed by their weights (what ``palette=True`` recolours to)."""
        return mix_color_stats(self.colors, self.weights)
