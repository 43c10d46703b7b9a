"""Stylise images too big for memory in overlapping tiles, with no seams and no drift between tiles.

Two problems, two fixes:

* **Drift.** Instance normalisation (Ulyanov et al. 2016) normalises every channel by the mean and
  variance *of the image it sees*. A tile of sky and a tile of forest have different statistics, so
  tiles stylised independently get different contrast and colour casts, and the grid shows. We run the
  network once on a downscaled copy of the *whole* image, record each ``InstanceNorm2d``'s per-channel
  mean and variance there (:func:`record_instance_norm_stats`), and normalise every tile with those
  frozen statistics (:func:`frozen_instance_norm`), so all tiles share one normalisation, as the
  full-size pass would.
* **Seams.** Pixels near a tile's border see reflection padding instead of their real neighbours
  (the Johnson network sees 54 px on each side of a pixel). Tiles overlap; in each overlap the outer
  quarter of a tile is dropped and the next half is cross-faded with a raised-cosine ramp (weights that
  sum to one, as in overlap-add / feathered mosaicking), so the border artefacts get (almost) no weight
  and no step is visible. Weights are also accumulated and divided out, which keeps any layout exact.
  Tiles start on the network's 4-pixel sampling grid (:func:`tile_spans`).

With the statistics of the full-size image, tiled and untiled results agree to one level of 255
(docs/inference.md); the default statistics from a downscale trade that for bounded memory.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Callable

import torch
from torch import nn

from stylenet.data.images import resize_tensor_long_side
from stylenet.errors import StylenetError
from stylenet.inference.instance_norm import Stats, frozen_instance_norm, record_instance_norm_stats

# One set of limits for every caller (Stylizer, infer.py): a tile smaller than 64 px is mostly border
# (the network sees 54 px around each pixel); statistics from under 16 px would come from 1×1 feature maps.
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128  # > 2 × the 54 px the Johnson network sees on each side of a pixel (its receptive field)
MIN_TILE = 64
MIN_STATS_SIZE = 16


class TilingError(StylenetError, ValueError):
    """Tile, overlap or statistics sizes that cannot work; the message gives the allowed range."""


def check_tiling(tile: int, overlap: int | None = None, stats_size: int | None = None,
                 names: tuple[str, str, str] = ("tile", "overlap", "stats_size")) -> None:
    """Refuse, in one line, tiling options no image can be stylised with (``tile`` 0 = no tiling).
    ``names``: what the caller calls the three options (infer.py: ``--tile``, ...)."""
    if tile != 0 and tile < MIN_TILE:
        raise TilingError(f"{names[0]} must be at least {MIN_TILE} px (or 0 to disable tiling), got {tile}")
    size = tile or DEFAULT_TILE
    if overlap is not None and not 0 <= overlap < size // 2:
        raise TilingError(f"{names[1]} must be between 0 and {size // 2 - 1} (under half the tile), got {overlap}")
    if stats_size is not None and stats_size < MIN_STATS_SIZE:
        raise TilingError(f"{names[2]} must be at least {MIN_STATS_SIZE} px, got {stats_size}")


def tile_spans(length: int, tile: int, overlap: int, multiple: int = 4) -> list[tuple[int, int]]:
    """``(start, size)`` of tiles covering ``[0, length)``, neighbours sharing at least ``overlap`` pixels.

    Starts are multiples of ``multiple``: the network's two stride-2 stages sample a 4-pixel grid, and
    only shifts by whole grid steps give a tile the same sampling as the full image (a tile starting at
    an odd pixel would compute a differently-subsampled, visibly different result). The last tile ends
    at the border and may be up to ``multiple - 1`` pixels longer than the others.
    """
    if length <= tile:
        return [(0, length)]
    n = math.ceil((length - overlap) / (tile - overlap))
    # The fewest tiles that fit; then shrink them so that neighbours share about ``overlap`` pixels, not
    # more (4096 px in 1024 px tiles: five 924 px tiles, not five 1024 px ones sharing 256 px).
    size = min(tile, -(-(length + (n - 1) * overlap) // (n * multiple)) * multiple)
    last = (length - size) // multiple * multiple
    # Spread the starts evenly over the grid, so every overlap is about the same.
    starts = sorted({round(i * last / (n - 1) / multiple) * multiple for i in range(n)})
    return [(s, size if s != starts[-1] else length - s) for s in starts]


def _ramp(n: int, lead: int, fade: int, device, dtype) -> torch.Tensor:
    """Weights for the first ``n`` pixels from an interior tile edge: 0 for ``lead``, cosine up over ``fade``."""
    d = torch.arange(n, device=device, dtype=dtype) + 0.5
    t = ((d - lead) / max(fade, 1)).clamp(0, 1)
    return 0.5 - 0.5 * torch.cos(math.pi * t)


def _axis_weight(start: int, size: int, length: int, overlap: int, device, dtype) -> torch.Tensor:
    w = torch.ones(size, device=device, dtype=dtype)
    lead, fade = overlap // 4, overlap - 2 * (overlap // 4)
    if start > 0:  # a neighbour on this side: fade in
        w = w * _ramp(size, lead, fade, device, dtype)
    if start + size < length:  # and on the other side: fade out
        w = w * _ramp(size, lead, fade, device, dtype).flip(0)
    return w


def stylize_tiled(
    run: Callable[[torch.Tensor], torch.Tensor],
    net: nn.Module,
    image: torch.Tensor,
    tile: int,
    overlap: int,
    stats_size: int | None = None,
    to_input: Callable[[torch.Tensor], torch.Tensor] | None = None,
    finish: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    run_tile: Callable[[torch.Tensor, Stats], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Stylise one image (1×3×H×W, float in [0, 1] or uint8, on the CPU) tile by tile.

    ``run(x)`` stylises a 1×3×h×w float tensor on the compute device (padding to the network's multiple
    included) and ``net`` is the module it runs, whose instance norms get frozen. ``to_input`` moves a
    CPU tile to the compute device in the right dtype; ``finish(y, x)`` turns the raw network output of a
    tile into final pixels given the input tile (clamping, colour preservation, strength), applied per
    tile because those steps are per-pixel. ``stats_size`` is the long side of the downscaled whole
    image the instance-norm statistics come from (default: ``tile``). ``run_tile(x, stats)``, if given,
    stylises a tile with frozen statistics itself (e.g. an onnxruntime graph taking them as inputs);
    otherwise tiles go through ``run`` under :func:`frozen_instance_norm`. Returns 1×3×H×W float32 on the CPU.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"stylize_tiled takes one image as 1×C×H×W, got {tuple(image.shape)}")
    check_tiling(tile, overlap, stats_size)
    to_input = to_input or (lambda t: t)
    _, c, h, w = image.shape

    def as_float(t: torch.Tensor) -> torch.Tensor:
        return t.float().div_(255.0) if t.dtype == torch.uint8 else t.float()

    # 1. statistics from the whole image, downscaled so that its long side is stats_size.
    stats_size = stats_size or tile
    small = as_float(image)  # a copy for uint8 input; float input is only read
    if stats_size < max(h, w):
        small = resize_tensor_long_side(small, stats_size).clamp_(0, 1)
    with record_instance_norm_stats(net) as stats:
        run(to_input(small))
    del small

    # 2. tiles, normalised with those statistics, blended with feathered weights.
    out = torch.zeros(1, c, h, w, dtype=torch.float32)
    weight_sum = torch.zeros(1, 1, h, w, dtype=torch.float32)
    with frozen_instance_norm(net, stats) if run_tile is None else nullcontext():
        for y0, th in tile_spans(h, tile, overlap):
            wy = _axis_weight(y0, th, h, overlap, "cpu", torch.float32)
            for x0, tw in tile_spans(w, tile, overlap):
                wx = _axis_weight(x0, tw, w, overlap, "cpu", torch.float32)
                x_tile = to_input(as_float(image[:, :, y0:y0 + th, x0:x0 + tw]))
                y_tile = run(x_tile) if run_tile is None else run_tile(x_tile, stats)
                y_tile = finish(y_tile, x_tile) if finish else y_tile
                wt = (wy[:, None] * wx[None, :]).view(1, 1, th, tw)
                out[:, :, y0:y0 + th, x0:x0 + tw].addcmul_(y_tile.float().cpu(), wt)
                weight_sum[:, :, y0:y0 + th, x0:x0 + tw].add_(wt)
    return out.div_(weight_sum.clamp_min_(1e-12))
