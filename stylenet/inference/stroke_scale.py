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
* ``"auto"`` (the default): the working long side the style was measured to paint best at, ``stroke_side`` in the
  checkpoint's style entry (:mod:`stylenet.teacher.strokes` measures it with the training loss, the painting at the
  training run's scale relative to the photo), so ``S = long side / stroke_side``; for a style without it, the
  scale the network was trained at, ``S = photo short side / training short side`` (the checkpoint's
  ``train.image_size``), bounded so that the working image keeps a long side of at least :data:`AUTO_MIN_SIDE`;
  for a checkpoint that records neither, 1. Never below 1: auto never enlarges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from stylenet.data import images
from stylenet.data.images import long_side_hw
from stylenet.errors import StylenetError
from stylenet.inference.mix import StyleChoice, mix_vector
from stylenet.inference.tiling import MIN_TILE

StrokeScale = float | str  # a number, or "auto"

AUTO = "auto"
# On 4 held-out photos at 512 px, auto took the shipped Scream from 9 to 27.5 teacher-equivalent iterations and
# Udnie from 0 to 17.5, ahead on style and content both; at 3000 px S = 1 is a fine texture (docs/inference.md).
# Decoders and stroke-less checkpoints read auto as 1.
DEFAULT_STROKE_SCALE: StrokeScale = AUTO
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


def stroke_side(meta: Mapping[str, Any] | None, style: StyleChoice = None) -> float | None:
    """The working long side the painted style was measured to paint best at (``stroke_side``), or None when the
    checkpoint does not record it. A blend of styles (``{name: weight}``) takes the weighted geometric mean of its
    styles' sides (None if one of them has none); a multi-style network with no style chosen, None."""
    meta = meta or {}
    styles = meta.get("styles") or []
    if not styles:
        side = (meta.get("style") or {}).get("stroke_side")
        return float(side) if side else None
    if style is None:
        return None
    weights = mix_vector(style, [s["name"] for s in styles])
    if weights is None:
        return None
    log_side = 0.0
    for entry, w in zip(styles, weights.tolist()):
        if w > 0:
            if not entry.get("stroke_side"):
                return None
            log_side += w * math.log(entry["stroke_side"])
    return math.exp(log_side)


def resolve(scale: StrokeScale, hw: tuple[int, int], train_side: int | None, side: float | None = None) -> float:
    """The number behind ``scale`` for a photo of ``hw``: ``"auto"`` → long side / ``side`` (the style's
    measured stroke side) when known, else short side / ``train_side`` at most long side / :data:`AUTO_MIN_SIDE`,
    else 1; never under 1."""
    scale = check_stroke_scale(scale)
    if scale != AUTO:
        return scale
    if side:
        return max(1.0, max(hw) / side)
    if not train_side:
        return 1.0  # nothing recorded (a converted pytorch/examples network): as the network paints
    return max(1.0, min(min(hw) / train_side, max(hw) / AUTO_MIN_SIDE))


def working_size(hw: tuple[int, int], scale: StrokeScale, train_side: int | None = None,
                 side: float | None = None) -> tuple[int, int]:
    """(H, W) of the image the network paints for a photo of ``hw``; ``hw`` itself means "as it is"."""
    s = resolve(scale, hw, train_side, side)
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
