"""A frozen VGG16 feature extractor with named layers and ImageNet normalisation inside.

Layers are named ``relu{block}_{n}`` as in Johnson et al. (2016) and Gatys et al. (2015). The network
is cut after the deepest layer a loss asks for, so relu4_3 as deepest layer skips block 5 entirely.

Weights (``weights=``):

* ``"IMAGENET1K_V1"`` — torchvision's ImageNet weights, downloaded once into the torch hub cache;
* a path to a ``state_dict`` of torchvision's ``vgg16().features`` (keys ``0.weight`` … ``28.bias``);
* ``"random"`` — untrained weights, for tests that only need shapes (never for quality).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from stylenet.errors import StylenetError

# Indices of the layers in torchvision's vgg16().features, so state_dicts load unchanged.
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> dict[str, int]:
    """relu{block}_{n} → index of that ReLU in vgg16().features."""
    names, idx, block, n = {}, 0, 1, 0
    for v in _VGG16_CFG:
        if v == "M":
            idx += 1
            block, n = block + 1, 0
        else:
            n += 1
            names[f"relu{block}_{n}"] = idx + 1
            idx += 2
    return names


LAYER_INDEX = _layer_names()
WEIGHTS_HELP = (
    "pass loss.weights=/path/to/vgg16_features.pth (a state_dict of torchvision's vgg16().features), "
    "or run once with internet access so torchvision caches IMAGENET1K_V1"
)


class VGGWeightsError(StylenetError, RuntimeError):
    pass


def _build_features(last_index: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for v in _VGG16_CFG:
        if len(layers) > last_index:
            break
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            # Not in-place: the features we hand out must not be overwritten by the next ReLU.
            layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=False)]
            c_in = v
    return nn.Sequential(*layers[: last_index + 1])


def load_vgg16_state_dict(weights: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Return a state_dict for vgg16().features from a weights name or a file; clear errors only."""
    w = str(weights)
    if w == "IMAGENET1K_V1":
        from torchvision.models import VGG16_Weights

        url = VGG16_Weights.IMAGENET1K_V1.url
        try:
            full = torch.hub.load_state_dict_from_url(url, progress=True, weights_only=True)
        except Exception as e:  # URLError, socket errors, HTTP errors, a half-downloaded file
            raise VGGWeightsError(
                f"could not get torchvision's VGG16 IMAGENET1K_V1 weights ({type(e).__name__}: {e}); {WEIGHTS_HELP}"
            ) from None
        return {k[len("features."):]: v for k, v in full.items() if k.startswith("features.")}
    path = Path(w).expanduser()
    if not path.is_file():
        raise VGGWeightsError(f"VGG16 weights file not found: {path}; {WEIGHTS_HELP}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise VGGWeightsError(f"{path} is not a readable state_dict ({type(e).__name__}: {e}); {WEIGHTS_HELP}") from None
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise VGGWeightsError(f"{path} does not hold a state_dict; {WEIGHTS_HELP}")
    if any(k.startswith("features.") for k in sd):  # a whole torchvision vgg16 state_dict
        sd = {k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")}
    return sd


class VGGEncoder(nn.Module):
    """Frozen VGG16 → ``{layer_name: feature}`` for the requested layers.

    Takes the project's pixels (RGB in [0, 1]) and does the ImageNet normalisation itself, without
    touching the caller's tensor.
    """

    def __init__(self, layers: list[str] | tuple[str, ...], weights: str | os.PathLike | None = "IMAGENET1K_V1"):
        super().__init__()
        unknown = [name for name in layers if name not in LAYER_INDEX]
        if unknown:
            raise ValueError(f"unknown VGG16 layer(s) {unknown}; choose from {list(LAYER_INDEX)}")
        self.layers = list(dict.fromkeys(layers))
        self._index = {LAYER_INDEX[name]: name for name in self.layers}
        self.features = _build_features(max(self._index))
        if weights not in (None, "random"):
            sd = load_vgg16_state_dict(weights)
            own = self.features.state_dict()
            missing = [k for k in own if k not in sd]
            if missing:
                raise VGGWeightsError(f"VGG16 weights {weights} lack {missing[:4]}...; {WEIGHTS_HELP}")
            try:
                self.features.load_state_dict({k: sd[k] for k in own})
            except RuntimeError as e:
                raise VGGWeightsError(f"VGG16 weights {weights} do not fit vgg16().features ({e}); {WEIGHTS_HELP}") from None
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGEncoder":
        return super().train(False)  # always frozen, whatever the surrounding module does

    def forward(self, x: torch.Tensor, layers: list[str] | tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        """Features of ``layers`` (default: all the encoder's layers). The pass stops after the deepest
        one asked for: the content targets need relu2_2 only, a third of the work of relu4_3."""
        wanted = self._index if layers is None else {LAYER_INDEX[name]: name for name in layers if name in self.layers}
        if layers is not None and len(wanted) != len(set(layers)):
            raise ValueError(f"the encoder does not produce {[n for n in layers if n not in self.layers]}; it has {self.layers}")
        last = max(wanted)
        h = (x - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
            if i == last:
                break
        return out
