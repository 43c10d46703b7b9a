"""Strokes at the painting's scale on any photo size: the size of the working image the network paints.

A Johnson network paints strokes of a fixed size in pixels, the size it learnt on its training crops
(``experiment=quick``: 128 px). On a 12-megapixel photo those strokes are a fine texture and the photo looks
barely stylised. A stroke scale ``S`` runs the network on the photo resized by 1/S, where its strokes cover
S times more of the photo, and brings the result back to the photo's size with guided upsampling
(:mod:`stylenet.inference.guided`), so the photo's edges stay sharp:

* ``S`` a number: the working image's long side is ``round(long / S)``, at least :data:`MIN_WORKING_SIDE`
  (and never more than the photo's for S >= 1). ``S = 1``, or any S that leaves the size unchanged, does
  nothing at all: no resize, no filter. ``S < 1`` (down to :data:`MIN_STROKE_SCALE`) enlarges the photo
  before the network, within the pixel limit of :data:`stylenet.data.images.MAX_PIXELS`.
* ``"auto"``: the scale the network was trained at, relative to the photo, ``S = photo short side / training short
  side`` (the checkpoint's ``train.image_size``), bounded so that the working image keeps a long side of at least
  :data:`AUTO_MIN_SIDE`, and never below 1 (auto never enlarges).
"""

from __future__ import annotations

import math

from stylenet.data import images
from stylenet.data.images import long_side_hw
from stylenet.errors import StylenetError
from stylenet.inference.tiling import MIN_TILE

StrokeScale = float | str  # a number, or "auto"

DEFAULT_STROKE_SCALE: StrokeScale = 1.0  # today's behaviour; the default is to be chosen from measurements
AUTO = "auto"
MIN_STROKE_SCALE = 0.25  # S < 1 enlarges the photo before the network: at most 4× per side
# A working image under 64 px is all border for the network (it sees 54 px around each pixel): the same
# reason, and the same number, as the smallest tile.
MIN_WORKING_SIDE = MIN_TILE


# auto's working image keeps at least this long side. The training scale alone (128 px crops) left a 3000 px photo
# a 147x128 working image, S = 20: a smeared field with the photo's specks pasted back, while S = 4 (a 750 px image)
# read as the wave's own crests with the galaxies sharp (docs/inference.md, the Hubble sheet, 2026-12-05).
AUTO_MIN_SIDE = 768


class StrokeScaleError(StylenetError, ValueError):
    """A stroke scale that cannot be used; the message gives the allowed values."""


def check_stroke_scale(value: StrokeScale, name: str = "stroke_scale") -> StrokeScale:
    """``value`` as a float, or ``"auto"``; one line for anything else (0, negative, NaN, inf, under
    :data:`MIN_STROKE_SCALE`, text). ``name``: what the caller calls the option (infer.py: ``--stroke-scale``)."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise StrokeScaleError(f"{name} takes a number (2 = strokes twice as big) or auto, got {value!r}") from None
    if not (math.isfinite(scale) and scale >= MIN_STROKE_SCALE):  # also NaN
        raise StrokeScaleError(f"{name} must be auto or a number from {MIN_STROKE_SCALE:g} (the photo enlarged "
                               f"{1 / MIN_STROKE_SCALE:g}x) up, 1 = as the network paints; got {scale:g}")
    return scale


def training_side(meta: dict | None) -> int | None:
    """The training photos' short side in pixels (``train.image_size``: the crops' side), or None when the
    checkpoint does not say. (``data.resize``, a short side before cropping, is not recorded; unset, as in
    every shipped recipe, it equals the crop.)"""
    side = ((meta or {}).get("train") or {}).get("image_size")
    return int(side) if side else None


def resolve(scale: StrokeScale, hw: tuple[int, int], train_side: int | None) -> float:
    """The number behind ``scale`` for a photo of ``hw``: ``"auto"`` → short side / ``train_side``, at most
    long side / :data:`AUTO_MIN_SIDE`, at least 1."""
    scale = check_stroke_scale(scale)
    if scale != AUTO:
        return scale
    if not train_side:
        raise StrokeScaleError("stroke scale auto needs the training image size (train.image_size), which this "
                               "checkpoint does not record; give a number instead")
    return max(1.0, min(min(hw) / train_side, max(hw) / AUTO_MIN_SIDE))


def working_size(hw: tuple[int, int], scale: StrokeScale, train_side: int | None = None) -> tuple[int, int]:
    """(H, W) of the image the network paints for a photo of ``hw``; ``hw`` itself means "as it is"."""
    s = resolve(scale, hw, train_side)
    if s == 1:
        return tuple(hw)
    long = max(hw)
    side = round(long / s)
    if s >= 1:
        side = min(long, max(side, MIN_WORKING_SIDE))
    h, w = long_side_hw(hw, side)
    if side > long and h * w > images.MAX_PIXELS:  # only an enlarged photo can pass the limit a file passed
        raise StrokeScaleError(f"stroke scale {s:g} makes the {hw[1]}x{hw[0]} photo a {w}x{h} = {h * w:,}-pixel working "
                               f"image, over the {images.MAX_PIXELS:,}-pixel limit; give a larger stroke scale")
    return h, w
