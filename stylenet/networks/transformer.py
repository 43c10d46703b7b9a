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
``output="clamp"`` clips into [0, 1] instead: pytorch/examples' network has no output nonlinearity and
its pixels are clipped when saved, so its converted networks (:mod:`stylenet.networks.examples`) end so.
Any H×W works: the two stride-2 convolutions and the two ×2 upsamplings are size-matched, so the
output has the input's size when H and W are multiples of 4 (:attr:`TransformerNet.size_multiple`);
inference pads to that and crops back.

Several styles in one network (``num_styles > 1``): every instance norm becomes a
:class:`ConditionalInstanceNorm2d` with one scale and shift per style and everything else is shared
(Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for Artistic Style"). Which style, or which
blend of styles, the network paints is a weight vector set with :func:`set_mix` before the forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stylenet.errors import StylenetError

SIZE_MULTIPLE = 4  # two stride-2 stages: sizes that are multiples of 4 come back unchanged


class StyleNotChosenError(StylenetError, ValueError):
    """A multi-style network ran without a style (or mix) chosen, or with a malformed one."""


class ConditionalInstanceNorm2d(nn.InstanceNorm2d):
    """Instance norm whose scale and shift are chosen per style (Dumoulin et al. 2017, §2.2).

    ``scale`` and ``shift`` hold one row per style (S×C). The mix (:func:`set_mix`), a weight per style (S)
    or per sample and style (B×S), selects or blends the rows: ``mix @ scale``. Blending the parameters
    blends the styles (Dumoulin et al. §4, Fig. 7). A subclass of :class:`nn.InstanceNorm2d` without its own
    affine, so the statistics hooks of tiling and export treat it as any instance norm;
    :meth:`style_affine` gives them the current scale and shift.
    """

    def __init__(self, num_features: int, num_styles: int):
        super().__init__(num_features, affine=False)
        self.num_styles = int(num_styles)
        self.scale = nn.Parameter(torch.ones(num_styles, num_features))
        self.shift = nn.Parameter(torch.zeros(num_styles, num_features))
        self.mix: torch.Tensor | None = None  # set by set_mix; not state, never saved

    def style_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scale, shift)`` for the current mix: C (one mix) or B×C (one per sample)."""
        if self.mix is None:
            raise StyleNotChosenError(f"this network holds {self.num_styles} styles: choose one (or a mix) before running it")
        mix = self.mix.to(self.scale.dtype)
        return mix @ self.scale, mix @ self.shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        scale, shift = self.style_affine()
        shape = (-1, self.num_features, 1, 1)
        return torch.addcmul(shift.to(y.dtype).reshape(shape), y, scale.to(y.dtype).reshape(shape))


def conditional_norms(net: nn.Module) -> list[ConditionalInstanceNorm2d]:
    return [m for m in net.modules() if isinstance(m, ConditionalInstanceNorm2d)]


def set_mix(net: nn.Module, mix: torch.Tensor | None) -> None:
    """Choose the style(s) every conditional instance norm of ``net`` (any module containing them:
    TransformerNet, InferenceNet, an export graph) applies: a weight per style (S) for the whole batch,
    or one row per sample (B×S); a one-hot row is one style. None clears the choice."""
    norms = conditional_norms(net)
    if mix is not None and norms:
        s = norms[0].num_styles
        if mix.dim() not in (1, 2) or mix.shape[-1] != s:
            raise StyleNotChosenError(f"a style mix for this network has {s} weights (one per style), got shape {tuple(mix.shape)}")
    for m in norms:
        m.mix = mix


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution (reflection avoids the dark borders zero padding leaves)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride))


def instance_norm(channels: int, num_styles: int = 1) -> nn.InstanceNorm2d:
    """The network's normalisation: plain affine instance norm for one style, conditional for several."""
    return nn.InstanceNorm2d(channels, affine=True) if num_styles == 1 else ConditionalInstanceNorm2d(channels, num_styles)


class ConvNormReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: int = 1, num_styles: int = 1):
        layers: list[nn.Module] = []
        if upsample > 1:
            layers.append(nn.Upsample(scale_factor=upsample, mode="nearest"))
        layers += [ConvLayer(c_in, c_out, kernel, stride), instance_norm(c_out, num_styles), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ScaledTanh(nn.Module):
    """(tanh(x) + 1) / 2: pixels in [0, 1], and a mid-grey start (Johnson et al. 2016, §3.1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x).add(1.0).mul(0.5)


class Clamp01(nn.Module):
    """Pixels clipped into [0, 1]: the output of pytorch/examples' networks (no gradient outside [0, 1],
    so for converted networks, not for training)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)


OUTPUTS = {"tanh": ScaledTanh, "clamp": Clamp01}  # the last layer, by arch["output"] (default tanh)
# How the network enters and leaves full resolution, by arch["stem"] (default "full", the paper's):
# "space_to_depth" folds 2×2 pixel blocks into channels first and unfolds them last (model=fast).
STEMS = ("full", "space_to_depth")


class ResidualBlock(nn.Module):
    """Two 3×3 conv + instance norm, identity shortcut (He et al. 2016; layout of Gross & Wilber 2016)."""

    def __init__(self, channels: int, num_styles: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            instance_norm(channels, num_styles),
            nn.ReLU(inplace=True),
            ConvLayer(channels, channels, 3),
            instance_norm(channels, num_styles),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Image → stylised image. ``base_channels=32, num_residual_blocks=5`` is the paper's network;
    ``base_channels=16`` is the half-width variant (Johnson's instance-norm models use half the filters
    "without sacrificing quality"). ``num_styles > 1``: conditional instance norms, one style per row
    (choose with :func:`set_mix`); ``config`` names ``num_styles`` only then, so one-style files are as before.
    ``output``: ``"tanh"`` (the paper's, default) or ``"clamp"`` (:data:`OUTPUTS`), named in ``config`` only
    when not the default.

    ``stem="space_to_depth"`` (``model=fast``, docs/performance.md) never computes at full resolution: the
    image's 2×2 pixel blocks become 12 channels (pixel unshuffle), a 5×5 convolution there sees the same
    10-pixel window as the paper's 9×9 one, and the last layer predicts each output 2×2 block as 12 channels
    (pixel shuffle; the ESPCN output of Shi et al. 2016). At full resolution the paper's network spends a
    fifth of its multiply-adds in two 9×9 convolutions with 3 channels on one side, which run far below the
    machine's speed, plus two instance norms over the largest tensors. ``residual_channels`` sets the
    residual blocks' width (default ``4 × base_channels``, the paper's). Both are named in ``config`` only
    when not the default."""

    size_multiple = SIZE_MULTIPLE

    def __init__(self, base_channels: int = 32, num_residual_blocks: int = 5, num_styles: int = 1, output: str = "tanh",
                 stem: str = "full", residual_channels: int | None = None):
        super().__init__()
        c, s = base_channels, int(num_styles)
        r = 4 * c if residual_channels is None else int(residual_channels)
        if s < 1:
            raise ValueError(f"num_styles must be at least 1, got {num_styles}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
        if r < 1:
            raise ValueError(f"residual_channels must be at least 1, got {residual_channels}")
        self.config = {"base_channels": int(base_channels), "num_residual_blocks": int(num_residual_blocks)}
        if s > 1:
            self.config["num_styles"] = s
        if output != "tanh":
            self.config["output"] = output
        if stem != "full":
            self.config["stem"] = stem
        if r != 4 * c:
            self.config["residual_channels"] = r
        self.num_styles = s
        if stem == "full":
            self.downsample = nn.Sequential(
                ConvNormReLU(3, c, 9, num_styles=s),
                ConvNormReLU(c, 2 * c, 3, stride=2, num_styles=s),
                ConvNormReLU(2 * c, r, 3, stride=2, num_styles=s),
            )
        else:
            self.downsample = nn.Sequential(
                nn.PixelUnshuffle(2),
                ConvNormReLU(12, c, 5, num_styles=s),
                ConvNormReLU(c, r, 3, stride=2, num_styles=s),
            )
        self.residuals = nn.Sequential(*[ResidualBlock(r, s) for _ in range(num_residual_blocks)])
        if stem == "full":
            self.upsample = nn.Sequential(
                ConvNormReLU(r, 2 * c, 3, upsample=2, num_styles=s),
                ConvNormReLU(2 * c, c, 3, upsample=2, num_styles=s),
                ConvLayer(c, 3, 9),
                OUTPUTS[output](),
            )
        else:
            self.upsample = nn.Sequential(
                ConvNormReLU(r, c, 3, upsample=2, num_styles=s),
                ConvLayer(c, 12, 5),
                nn.PixelShuffle(2),
                OUTPUTS[output](),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.residuals(self.downsample(x)))


def network_shape(arch: Mapping[str, Any]) -> dict[str, Any]:
    """What decides a :class:`TransformerNet`'s tensors (its styles aside), defaults filled in as ``__init__``
    fills them: a checkpoint written before ``stem`` and ``residual_channels`` existed holds the paper's stem
    and 4 × base_channels, and must be compared so (``training.build.check_same_network``)."""
    base = int(arch.get("base_channels", 32))
    residual = arch.get("residual_channels")
    return {"base_channels": base, "num_residual_blocks": int(arch.get("num_residual_blocks", 5)),
            "stem": str(arch.get("stem", "full")), "residual_channels": 4 * base if residual is None else int(residual)}


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
