"""What every stylizer offers: a trained network (:class:`~stylenet.inference.stylizer.Stylizer`, one style or
several) and universal decoders with their paintings (:class:`~stylenet.universal.paintings.PaintingStylizer`).

:func:`stylenet.inference.open.open_stylizer` returns one for any checkpoint; infer.py, the contact sheet's
caller and :func:`stylenet.inference.video.stylize_video` need nothing more than this. Both kinds take PIL
images or B×3×H×W (or 3×H×W) float tensors in [0, 1], of any size, and give back the same kind at the same size.

Options every stylizer takes: ``strength`` (0 = the photo, 1 = fully stylised; one pixel blend for both kinds,
:func:`stylenet.perceptual.color.blend`), ``preserve_color`` (the photo's chroma) and, for PIL images, ``size``
(the long side). Options that only a trained network honours, accepted by both so one caller can drive either:
``stroke_scale``, ``tile``, ``overlap``, ``stats_size`` (universal decoders refuse a stroke scale other than 1 and
any explicit tile size in one line, and ignore ``overlap``/``stats_size``, which only shape tiles). Not part of
the protocol, because only a trained network has them: export (``stylenet.inference.export`` on
``Stylizer.net``), a choice among a network's own styles (``Stylizer.set_style``, ``styles``), half precision
and onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from PIL import Image


@runtime_checkable
class StylizerProtocol(Protocol):
    device: torch.device  # where it runs
    dtype: torch.dtype  # float16 or float32 (what infer.py prints)
    backend: str  # "torch", "onnxruntime" or "onnxruntime-int8"
    style_label: str  # the style painted, as output names carry it
    tiled_images: int  # how many images went through tiles (0 for a stylizer that never tiles)

    def working_size(self, hw: tuple[int, int], stroke_scale: float | str = 1) -> tuple[int, int]:
        """(H, W) a photo of ``hw`` is painted at: ``hw`` itself at stroke scale 1, the only one universal decoders take."""
        ...

    def stylize_tensor(self, x: torch.Tensor, *, strength: float = 1.0, preserve_color: bool = False,
                       **options: Any) -> torch.Tensor:
        """3×H×W or B×3×H×W in [0, 1] (uint8 accepted) → the same shape, float32, on ``x``'s device."""
        ...

    def stylize(self, image: Image.Image, *, size: int | None = None, strength: float = 1.0,
                preserve_color: bool = False, **options: Any) -> Image.Image:
        """A PIL image → RGB, or RGBA carrying its alpha plane; ``size``: the long side first."""
        ...

    def stylize_many(self, images: Sequence[Image.Image | tuple[Image.Image, Image.Image | None]], *,
                     size: int | None = None, strength: float = 1.0, preserve_color: bool = False,
                     batch_size: int = 1, **options: Any) -> list[Image.Image]:
        """Several PIL images or ``(rgb, alpha)`` pairs (:func:`stylenet.data.images.open_image`), in order."""
        ...

    def __call__(self, image: Image.Image | torch.Tensor, **options: Any) -> Image.Image | torch.Tensor:
        """PIL in → PIL out (:meth:`stylize`); tensor in → tensor out (:meth:`stylize_tensor`)."""
        ...
