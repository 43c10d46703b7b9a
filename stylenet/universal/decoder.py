"""Decoders from VGG features back to pixels (Li et al. 2017, §3.1 and their PytorchWCT decoders).

The decoder of level k inverts the VGG encoder up to relu{k}_1 by mirroring it: each encoder convolution
c_in→c_out becomes a c_out→c_in convolution (3×3, reflection padding, ReLU), each 2×2 max pool a nearest
×2 upsampling, and the last convolution gives the 3 RGB channels. Reflection padding and nearest
upsampling are what Li et al. use: zero padding draws dark borders and transposed convolutions draw
checkerboards (Odena et al. 2016).

Output range: the last convolution is linear and its output is clamped to [0, 1] only where pixels leave
the decoder (:meth:`Decoder.forward` with ``clamp=True``, the default). Training uses the unclamped output
(``clamp=False``) so that the gradient never vanishes on a pixel pushed out of range; a sigmoid instead
would need unbounded logits for the pure black and white that photos and paintings are full of, and would
slow learning there.
"""

from __future__ import annotations

import torch
from torch import nn

from stylenet.perceptual.vgg import CONFIGS, VGGConfigError

LEVELS = (1, 2, 3, 4, 5)


def level_layer(level: int) -> str:
    """The VGG layer a level's decoder inverts: relu{level}_1."""
    return f"relu{level}_1"


def size_multiple(level: int) -> int:
    """Side multiple an image needs so level ``level``'s features decode back to its exact size (2^(k-1):
    one halving per max pool before relu{k}_1)."""
    return 2 ** (level - 1)


MIN_WIDTH = 0.125  # the narrowest accepted: 8 channels at full resolution (nothing under a half has been trained)


def is_width(width) -> bool:
    """A decoder width: a number in [MIN_WIDTH, 1] (not a bool, not NaN)."""
    return isinstance(width, (int, float)) and not isinstance(width, bool) and MIN_WIDTH <= width <= 1


def hidden_width(channels: int, width: float) -> int:
    """A hidden layer's channels in a decoder of ``width`` (1: VGG's own, mirrored)."""
    return max(1, round(channels * width))


def min_side(level: int) -> int:
    """Smallest image side level ``level`` can decode: its features must be at least 2 px wide, since the
    decoder's first reflection padding needs a pixel to reflect."""
    return 2 ** level


def encoder_convs(network: str, level: int) -> list:
    """The encoder up to relu{level}_1: conv widths and "M" (max pool) in order, from VGG's config."""
    if network not in CONFIGS:
        raise VGGConfigError(f"no decoder for {network}; choose from {', '.join(CONFIGS)}")
    if level not in LEVELS:
        raise VGGConfigError(f"level {level} is not one of {LEVELS} (relu1_1 … relu5_1)")
    out, pools = [], 0
    for v in CONFIGS[network]:
        out.append(v)
        if v == "M":
            pools += 1
        elif pools == level - 1:
            return out  # the first conv after level-1 pools: relu{level}_1
    raise AssertionError("unreachable: every VGG has five blocks")


class Decoder(nn.Module):
    """relu{level}_1 features (B×C×H/2^(k-1)×W/2^(k-1)) → B×3×H×W pixels.

    ``width`` scales every hidden convolution's channels (the input stays the features' C, the output RGB):
    0.5 keeps about a quarter of the multiply-adds, the lever MicroAST (Wang et al. 2023) pulls on the whole
    encoder-decoder, applied here to the decoder alone since AdaIN's statistics need VGG's own features."""

    def __init__(self, level: int, network: str = "vgg19", width: float = 1.0):
        super().__init__()
        if not is_width(width):
            raise VGGConfigError(f"decoder width {width!r} is not a number in [{MIN_WIDTH}, 1]")
        self.level, self.network, self.width = level, network, float(width)
        convs = encoder_convs(network, level)
        widths = [3]
        layers: list[nn.Module] = []
        for i, v in enumerate(convs):
            if v == "M":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            else:  # the last is the features' channels, the decoder's input: never scaled
                c = v if i == len(convs) - 1 else hidden_width(v, width)
                layers.append((widths[-1], c))  # placeholder: conv widths[-1]→c in the encoder
                widths.append(c)
        mirrored: list[nn.Module] = []
        for item in reversed(layers):
            if isinstance(item, tuple):
                c_in, c_out = item  # encoder c_in→c_out, decoder c_out→c_in
                mirrored += [nn.ReflectionPad2d(1), nn.Conv2d(c_out, c_in, 3)]
                mirrored.append(nn.ReLU(inplace=True))
            else:
                mirrored.append(item)
        self.layers = nn.Sequential(*mirrored[:-1])  # no ReLU after the last (RGB) convolution
        self.in_channels = widths[-1]
        # 1 / the features' RMS, set from the first training batch (DecoderModule) and saved with the weights.
        # The shipped VGG19 works in Caffe's 0-255 units: its relu{k}_1 features are 10²-10³, and a decoder
        # fed them raw diverged or died at Adam's 1e-3 (measured: 5.7 and 6.5 dB PSNR at levels 1 and 2).
        self.register_buffer("input_scale", torch.ones(()))

    def forward(self, features: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        y = self.layers(features * self.input_scale)
        return y.clamp(0, 1) if clamp else y
