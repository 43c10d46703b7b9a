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
