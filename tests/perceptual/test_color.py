"""The Gatys teacher (stylenet/teacher/gatys.py) and the colour helpers it shares with inference (stylenet/perceptual/color.py)."""

from __future__ import annotations

import math

import pytest
import torch

from stylenet.errors import StylenetError
from stylenet.perceptual.color import blend, check_strength, luminance, preserve_color, rgb_to_yuv, yuv_to_rgb


def test_colour_helpers_round_trip_and_do_not_touch_inputs():
    x = torch.rand(2, 3, 8, 9)
    y = x.clone()
    assert torch.allclose(yuv_to_rgb(rgb_to_yuv(x)), x, atol=1e-5)
    grey = luminance(x)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 0], grey[:, 2])
    out = preserve_color(x[:1], torch.rand(1, 3, 4, 5))  # content resized to the stylised size
    assert out.shape == (1, 3, 4, 5) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(x, y)


def test_the_one_strength_blend_and_its_check():
    photo, stylised = torch.rand(2, 3, 8, 9), torch.rand(2, 3, 8, 9)
    assert blend(stylised, photo, 1.0) is stylised
    assert torch.equal(blend(stylised, photo, 0.0), photo)
    torch.testing.assert_close(blend(stylised, photo, 0.25), 0.75 * photo + 0.25 * stylised)
    assert check_strength("0.5") == 0.5
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(StylenetError, match="strength must be between 0 and 1"):
            check_strength(bad)
    with pytest.raises(KeyError):  # each stylizer raises its own kind
        check_strength(2, KeyError)


def test_match_colors_gives_the_target_mean_and_covariance_and_mixes_paintings_as_one_pool():
    from stylenet.perceptual.color import color_stats, match_colors, mix_color_stats

    torch.manual_seed(0)
    photo = 0.3 + 0.4 * torch.rand(2, 3, 20, 30)
    mix = torch.tensor([[0.5, 0.2, 0.1], [0.1, 0.6, 0.2], [0.0, 0.1, 0.3]])
    painting = torch.einsum("ij,bjhw->bihw", mix, torch.rand(1, 3, 16, 16)) + 0.05  # correlated channels, inside [0, 1]
    before = photo.clone()
    mean, cov = color_stats(painting)
    out = match_colors(photo, mean, cov)
    assert torch.equal(photo, before) and out.shape == photo.shape
    for img in out:  # each image alone takes the painting's colours (nothing clamped here)
        m, c = color_stats(img)
        torch.testing.assert_close(m, mean, atol=1e-5, rtol=0)
        torch.testing.assert_close(c, cov, atol=2e-4, rtol=0)  # the eigenvalue floor shifts it by ~1e-4
    flat = match_colors(torch.full((3, 5, 5), 0.8), mean, cov)  # one colour: no covariance to whiten, the mean moves
    torch.testing.assert_close(flat.mean((1, 2)).double(), mean, atol=1e-5, rtol=0)
    # two paintings at weights 3:1 have the colours of one image holding 3 copies of the first and 1 of the second
    a, b = torch.rand(3, 8, 8), torch.rand(3, 8, 8) ** 3
    pooled = color_stats(torch.cat([a, a, a, b], dim=-1))
    mixed = mix_color_stats([color_stats(a), color_stats(b)], [0.75, 0.25])
    torch.testing.assert_close(mixed[0], pooled[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(mixed[1], pooled[1], atol=1e-6, rtol=0)


def test_a_nearly_grey_photo_takes_the_paintings_mean_without_its_faint_colours_blown_up():
    """Chroma variance 1/50 of the luminance's (a grey seabird photo's proportions): matched exactly, its faint
    colours would be stretched into saturated blotches; floored, the photo takes the painting's mean colour and a
    fraction of its colour variety."""
    from stylenet.perceptual.color import color_stats, match_colors

    g = torch.Generator().manual_seed(1)
    grey = 0.2 + 0.6 * torch.rand(1, 1, 32, 32, generator=g)
    photo = (grey + 0.03 * torch.randn(1, 3, 32, 32, generator=g)).clamp(0, 1)
    painting = torch.rand(1, 3, 16, 16, generator=g) * torch.tensor([0.9, 0.5, 0.3]).view(1, 3, 1, 1)
    mean, cov = color_stats(painting)
    out = match_colors(photo, mean, cov)
    torch.testing.assert_close(color_stats(out)[0], mean, atol=0.02, rtol=0)
    minor, target = torch.linalg.eigvalsh(color_stats(out)[1])[:2], torch.linalg.eigvalsh(cov)[:2]
    assert (minor < 0.7 * target).all() and (minor > 0.05 * target).all()
