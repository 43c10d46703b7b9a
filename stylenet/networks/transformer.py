"""The feed-forward image transformation network of Johnson, Alahi & Fei-Fei (2016).

Architecture (jcjohnson/fast-neural-style's ``c9s1-32,d64,d128,R128×5,u64,u32,c9s1-3``) with the two
changes that later work showed to matter:

* instance normalisation instead of batch norm (Ulyanov et al. 2016, "Instance Normalization: The
  Missing Ingredient for Fast Stylization") — sharper results, and the half-width network keeps quality;
* nearest-neighbour upsampling followed by a convolution instead of transposed convolutions, which
  removes checkerboard artefacts (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts").

Input and output follow the project's pixel convention: float RGB in [0, 1], B×3×H×W. The output goes
through a scaled tanh into [0, 1], as in the paper (§3.1): with an unbounded output the network learns
to exploit out-of-range pixels that match the style Grams and shows black (seen here on BSDS500).
Any H×W works: the two stride-2 convolutions and the two ×2 upsamplings are size-matched, so the
output has the input's size when H and W are multiples of 4 (:attr:`TransformerNet.size_multiple`);
inference pads to that and crops back.
"""

from __future__ import annotations

import torch
from torch import nn

SIZE_MULTIPLE = 4  # two stride-2 stages: sizes that are multiples of 4 come back unchanged


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution (reflection avoids the dark borders zero padding leaves)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


class ConvNormReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: int = 1):
        layers: list[nn.Module] = []
        if upsample > 1:
            layers.append(nn.Upsample(scale_factor=upsample, mode="nearest"))
        layers += [ConvLayer(c_in, c_out, kernel, stride), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ScaledTanh(nn.Module):
    """(tanh(x) + 1) / 2: pixels in [0, 1], and a mid-grey start (Johnson et al. 2016, §3.1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x).add(1.0).mul(0.5)


class ResidualBlock(nn.Module):
    """Two 3×3 conv + instance norm, identity shortcut (He et al. 2016; layout of Gross & Wilber 2016)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Image → stylised image. ``base_channels=32, num_residual_blocks=5`` is the paper's network;
    ``base_channels=16`` is the half-width variant (Johnson's instance-norm models use half the filters
    "without sacrificing quality")."""

    size_multiple = SIZE_MULTIPLE

    def __init__(self, base_channels: int = 32, num_residual_blocks: int = 5):
        super().__init__()
        c = base_channels
        self.config = {"base_channels": int(base_channels), "num_residual_blocks": int(num_residual_blocks)}
        self.downsample = nn.Sequential(
            ConvNormReLU(3, c, 9),
            ConvNormReLU(c, 2 * c, 3, stride=2),
            ConvNormReLU(2 * c, 4 * c, 3, stride=2),
        )
        self.residuals = nn.Sequential(*[ResidualBlock(4 * c) for _ in range(num_residual_blocks)])
        self.upsample = nn.Sequential(
            ConvNormReLU(4 * c, 2 * c, 3, upsample=2),
            ConvNormReLU(2 * c, c, 3, upsample=2),
            ConvLayer(c, 3, 9),
            ScaledTanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.residuals(self.downsample(x)))


def pad_to_multiple(x: torch.Tensor, multiple: int = SIZE_MULTIPLE, min_size: int = 0,
                    mode: str | None = None) -> torch.Tensor:
    """Pad the bottom and right of ``x`` so H and W are multiples of ``multiple`` and at least ``min_size``:
    the one padding rule of :func:`run_any_size` and the exported graphs. ``mode`` None: reflection where
    the image is big enough to reflect, replication where it is not."""
    h, w = x.shape[-2], x.shape[-1]
    ph, pw = (multiple - h % multiple) % multiple, (multiple - w % multiple) % multiple
    if min_size:
        ph, pw = max(ph, min_size - h), max(pw, min_size - w)
    if mode is None:
        if ph == 0 and pw == 0:
            return x
        mode = "reflect" if pw < w and ph < h else "replicate"
    return nn.functional.pad(x, (0, pw, 0, ph), mode=mode)


def run_any_size(net: nn.Module, x: torch.Tensor, multiple: int = TransformerNet.size_multiple, min_size: int = 16) -> torch.Tensor:
    """Apply ``net`` to an image of any size (1×1 included) and return the same size.

    Pads (:func:`pad_to_multiple`; at least ``min_size``, since the 9×9 reflection padding needs a few
    pixels), runs, crops.
    """
    h, w = x.shape[-2:]
    return net(pad_to_multiple(x, multiple, min_size))[..., :h, :w]
