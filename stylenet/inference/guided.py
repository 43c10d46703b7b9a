"""Edge-aware upsampling with the guided filter, in bounded memory.

The guided filter (He, Sun & Tang, "Guided Image Filtering", ECCV 2010 / TPAMI 2013) models the output
in every small window as a linear function of a guide image, ``q = A·I + b``, fitted by least squares
with a ridge ``eps`` on ``A``; where the guide has an edge, the output has it too. Used for joint
upsampling (the fast guided filter: He & Sun 2015, arXiv:1505.00996; Wu et al. 2018, "Fast End-to-End
Trainable Guided Filter"), ``A`` and ``b`` are fitted at low resolution between the downscaled guide and
the low-resolution output, box-averaged, upsampled bilinearly and applied to the full-size guide:
``q = A_up·I_full + b_up``. The full-size photo's edges come back sharp; a plain resize would blur them.

The guide is the colour photo (He et al.'s colour form, a 3×3 system per pixel solved in closed form),
not its grey luminance: a grey guide cannot see an edge between two colours of the same brightness (a red
flower on green leaves), and the 3×3 solve only runs at the low resolution.

Memory: the full-size image is processed in horizontal bands of about ``band_pixels`` pixels (over the
batch); each band recomputes the coefficients of the low-resolution rows it needs (with a halo of
``2 × radius`` rows, so bands agree exactly with a whole-image pass). Besides the full-size guide and the
result, nothing larger than a band is held: about 30 floats per band pixel, ~32 MB with the default,
whatever the photo's size.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

DEFAULT_RADIUS = 1  # in working-image pixels: 3×3 windows; each box filter also blurs the strokes, so keep it small
DEFAULT_EPS = 1e-3  # ridge on A, in squared [0, 1] units: guide contrast under ~0.03 counts as flat
BAND_PIXELS = 1 << 18  # full-size pixels per band (over the batch): ~30 floats each, ~32 MB


def box_filter(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)² window around each pixel of a B×C×H×W tensor; windows are cut at the border
    (the mean of the pixels inside), so the border is not darkened. Separable: O(r) per pixel."""
    k = 2 * radius + 1
    x = F.avg_pool2d(x, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)


def coefficients(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The guided filter's box-averaged coefficients of ``src`` (B×C×h×w) on the colour ``guide`` (B×3×h×w):
    ``A`` (B×C×3×h×w) and ``b`` (B×C×h×w), so that ``src ≈ Σ_k A[:, :, k]·guide[:, k] + b`` (He et al. 2013, Alg. 2)."""
    B, C, h, w = src.shape
    mean_i = box_filter(guide, radius)  # B×3
    mean_p = box_filter(src, radius)  # B×C
    cov_ip = (box_filter((src[:, :, None] * guide[:, None]).flatten(1, 2), radius).view(B, C, 3, h, w)
              - mean_p[:, :, None] * mean_i[:, None])  # B×C×3
    var_i = (box_filter((guide[:, :, None] * guide[:, None]).flatten(1, 2), radius).view(B, 3, 3, h, w)
             - mean_i[:, :, None] * mean_i[:, None])  # B×3×3, symmetric
    inv = _inverse_sym3(var_i + eps * torch.eye(3, dtype=guide.dtype, device=guide.device).view(1, 3, 3, 1, 1))
    a = (inv[:, None] * cov_ip[:, :, None]).sum(3)  # B×C×3: A_c = (Σ + εI)⁻¹ cov(I, p_c)
    b = mean_p - (a * mean_i[:, None]).sum(2)
    return box_filter(a.flatten(1, 2), radius).view(B, C, 3, h, w), box_filter(b, radius)


def _inverse_sym3(m: torch.Tensor) -> torch.Tensor:
    """Inverses of symmetric positive-definite 3×3 matrices ``m`` (B×3×3×h×w), in closed form (cofactors):
    millions of tiny systems, which batched LAPACK solves one by one."""
    a, b, c, d, e, f = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 1], m[:, 1, 2], m[:, 2, 2]
    c00, c01, c02 = d * f - e * e, c * e - b * f, b * e - c * d
    c11, c12, c22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * c00 + b * c01 + c * c02
    rows = [[c00, c01, c02], [c01, c11, c12], [c02, c12, c22]]
    return torch.stack([torch.stack(r, 1) for r in rows], 1) / det[:, None, None]


def _row_taps(n_out: int, n_in: int, start: int, stop: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For output rows ``start..stop-1`` of an ``n_in`` → ``n_out`` bilinear resize, as ``F.interpolate``
    computes them (half-pixel centres, ``align_corners=False``): the two input rows and the second's weight."""
    src = ((torch.arange(start, stop, device=device, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5).clamp_(min=0)
    i0 = src.floor().long().clamp_(max=n_in - 1)
    i1 = (i0 + 1).clamp_(max=n_in - 1)
    return i0, i1, (src - i0).float().view(1, 1, -1, 1)


def guided_upsample(
    guide_low: torch.Tensor,
    src_low: torch.Tensor,
    guide: torch.Tensor,
    *,
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
    finish: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    band_pixels: int = BAND_PIXELS,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``src_low`` (B×C×h×w) brought to the size of ``guide`` (B×3×H×W) along the guide's edges.

    ``guide_low`` is the guide at ``src_low``'s size (the image ``src_low`` was computed from). The low-res
    tensors set the compute device; ``guide`` may live elsewhere and be uint8 (0–255): each band is moved
    and converted on its own. ``finish(q, guide_band)`` turns a band of the result into final pixels given
    the float guide band (clamping, colour, blending: per-pixel steps). The result goes into ``out``
    (default: a new float32 B×C×H×W on ``guide``'s device), which is returned. ``guide`` is not modified.
    """
    if radius < 0 or not eps > 0:
        raise ValueError(f"the guided filter needs radius >= 0 and eps > 0, got {radius} and {eps}")
    B, C, h, w = src_low.shape
    H, W = guide.shape[-2:]
    if guide_low.shape != (B, 3, h, w) or guide.shape[:2] != (B, 3):
        raise ValueError(f"guide {tuple(guide.shape)} and guide_low {tuple(guide_low.shape)} must be B×3 images "
                         f"of src_low's batch and (for guide_low) size {tuple(src_low.shape)}")
    device = src_low.device
    guide_low, src_low = guide_low.float(), src_low.float()
    if out is None:
        out = torch.empty(B, C, H, W, dtype=torch.float32, device=guide.device)
    rows_per_band = max(1, band_pixels // max(1, B * W))
    halo = 2 * radius  # a coefficient row depends on the guide rows within 2 radii (two box filters)
    for y0 in range(0, H, rows_per_band):
        y1 = min(H, y0 + rows_per_band)
        i0, i1, wt = _row_taps(H, h, y0, y1, device)
        s0, s1 = max(0, int(i0[0]) - halo), min(h, int(i1[-1]) + 1 + halo)  # the low-res rows it reads, and a halo
        a, b = coefficients(guide_low[:, :, s0:s1], src_low[:, :, s0:s1], radius, eps)
        coef = torch.cat([a.flatten(1, 2), b], 1)  # B×(3C + C)×(s1 - s0)×w
        coef = torch.lerp(coef.index_select(2, i0 - s0), coef.index_select(2, i1 - s0), wt)  # the band's rows
        # then the columns, over the whole width as a whole-image resize does (row scale 1: rows untouched)
        coef = F.interpolate(coef, size=(y1 - y0, W), mode="bilinear", align_corners=False)
        band = guide[:, :, y0:y1].to(device)
        band = band.float().div_(255.0) if band.dtype == torch.uint8 else band.float()
        q = coef[:, 3 * C:].clone()
        a_up = coef[:, :3 * C].view(B, C, 3, y1 - y0, W)
        for k in range(3):
            q.addcmul_(a_up[:, :, k], band[:, k:k + 1])
        del coef, a_up
        out[:, :, y0:y1] = (finish(q, band) if finish else q).to(out.device)
    return out

