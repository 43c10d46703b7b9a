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
