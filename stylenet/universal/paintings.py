"""PaintingStylizer: universal decoders with chosen paintings, as a stylizer like a trained network's.

    from stylenet.universal.paintings import PaintingStylizer
    s = PaintingStylizer.from_checkpoint("checkpoints/universal/last.ckpt", ["wave.jpg", "udnie.jpg"], weights=[0.7, 0.3])
    out = s(Image.open("photo.jpg"), strength=0.8)                     # PIL in, PIL out; tensors in, tensors out

The paintings are encoded once, when it is built (a bad painting is one line before any photo); each photo is
then stylised alone, since WCT's statistics are per image. It offers what
:class:`stylenet.inference.protocol.StylizerProtocol` names, so infer.py, :func:`stylenet.inference.open.open_stylizer`
and :func:`stylenet.inference.video.stylize_video` drive it as they drive a trained network. What a trained
network has and this has not: a stroke scale, tiles (WCT needs the whole image's statistics), half precision and
export; asking for them is one :class:`~stylenet.universal.stylizer.UniversalError` line. onnxruntime (float32 or
int8) is the stylizer's runner, :func:`stylenet.inference.universal_onnx.use_backend`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from stylenet.universal.stylizer import UniversalError, UniversalStylizer, check_palette, default_transform

_NO_TILES = ("auto", 0, "0", None)  # what a trained network's options mean when nothing is tiled


def style_label(paths: Sequence[str | os.PathLike]) -> str:
    """The paintings' file stems joined by ``+``, safe in a file name (what infer.py names its outputs with)."""
    stems = "+".join(Path(p).stem for p in paths)[:60]
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in stems) or "universal"


class PaintingStylizer:
    """``stylizer`` (decoders and their VGG) with ``styles`` (paths, PIL images or tensors) blended by
    ``weights`` (default equal), ``alpha`` (feature-space style strength), ``transform`` (wct, adain or efdm; default
    adain where the decoders have relu4_1's, :func:`~stylenet.universal.stylizer.default_transform`) and
    ``style_size`` (the paintings' long side; default their own size, at most 1024 px) and ``palette`` (recolour to the
    paintings' colours, :func:`~stylenet.universal.stylizer.check_palette`: default ``"auto"``, after the decoder
    unless a call asks for ``preserve_color``; ``None`` for the decoder's own colours)."""

    dtype = torch.float32
    tiled_images = 0  # never tiles

    def __init__(self, stylizer: UniversalStylizer, styles, weights: Sequence[float] | None = None, *, alpha: float = 1.0,
                 transform: str | None = None, style_size: int | None = None, palette: str | bool | None = "auto",
                 label: str | None = None):
        if not 0.0 <= float(alpha) <= 1.0:
            raise UniversalError(f"alpha must be between 0 and 1 (0 = the photo's features, 1 = all style), got {alpha:g}")
        check_palette(palette)  # a bad value: one line now, not at the first photo
        self.palette = palette
        self.stylizer, self.device = stylizer, stylizer.device
        self.styles = stylizer.prepare_styles(styles, weights, style_size)
        self.alpha, self.transform = float(alpha), transform or default_transform(stylizer.levels)
        paths = [styles] if isinstance(styles, (str, os.PathLike)) else styles
        named = isinstance(paths, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in paths)
        self.style_label = label or (style_label(paths) if named else "universal")  # what infer.py prints

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, styles, weights: Sequence[float] | None = None, *,
                        device: str | torch.device = "auto", encoder_weights: str | None = None, **options) -> PaintingStylizer:
        return cls(UniversalStylizer.from_checkpoint(path, device=device, encoder_weights=encoder_weights), styles, weights, **options)

    @property
    def backend(self) -> str:
        """What runs the encoder and decoders (the stylizer's runner: torch, onnxruntime or onnxruntime-int8)."""
        return self.stylizer.backend

    def __repr__(self) -> str:
        return (f"PaintingStylizer(styles={self.styles.names!r}, weights={self.styles.weights!r}, alpha={self.alpha:g}, "
                f"transform={self.transform!r}, palette={self.palette!r}, levels={list(self.stylizer.levels)}, device={self.device}, "
                f"backend={self.backend})")

    def working_size(self, hw: tuple[int, int], stroke_scale=1) -> tuple[int, int]:
        """The photo's own size: the decoders paint every photo as it is."""
        _check_options(stroke_scale, "auto")
        return tuple(hw)

    def stylize_tensor(self, x: torch.Tensor, *, strength: float = 1.0, preserve_color: bool = False,
                       stroke_scale=1, tile=None, overlap=None, stats_size=None) -> torch.Tensor:
        """3×H×W or B×3×H×W in [0, 1] (uint8 accepted) → the same shape, float32, on ``x``'s device.
        ``overlap`` and ``stats_size`` are accepted for a trained network's callers and mean nothing here."""
        _check_options(stroke_scale, tile)
        return self.stylizer.stylize_tensor(x, self.styles, alpha=self.alpha, transform=self.transform,
                                            preserve_color=preserve_color, strength=strength, palette=self.palette)

    def stylize(self, image: Image.Image | tuple, *, size: int | None = None, strength: float = 1.0,
                preserve_color: bool = False, **options) -> Image.Image:
        """A PIL image (or an ``(rgb, alpha)`` pair) → RGB, or RGBA with its alpha plane; ``size``: the long side."""
        return self.stylize_many([image], size=size, strength=strength, preserve_color=preserve_color, **options)[0]

    def stylize_many(self, images, *, size: int | None = None, strength: float = 1.0, preserve_color: bool = False,
                     stroke_scale=1, tile=None, overlap=None, stats_size=None, batch_size: int = 1) -> list[Image.Image]:
        """Each image alone, in order (``batch_size`` is accepted and changes nothing: WCT is per image)."""
        _check_options(stroke_scale, tile)
        return [self.stylizer.stylize(item, self.styles,
                                      alpha=self.alpha, transform=self.transform, preserve_color=preserve_color,
                                      size=size, strength=strength, palette=self.palette)
                for item in images]

    def __call__(self, image, **options):
        """PIL image in → PIL image out; tensor in → tensor out."""
        if isinstance(image, torch.Tensor):
            return self.stylize_tensor(image, **options)
        return self.stylize(image, **options)


def _check_options(stroke_scale, tile) -> None:
    # auto (every caller's default) means "as it is" here: the decoders' texture has VGG's scale, not a stroke size.
    if stroke_scale not in (1, 1.0, "1", "auto"):
        raise UniversalError("a stroke scale applies to trained networks; with universal decoders style_size sets the painting's scale")
    if tile not in _NO_TILES:
        raise UniversalError("tiles do not apply to universal decoders: WCT needs the whole image's statistics")
