"""The Gatys teacher (stylenet/teacher/gatys.py) and the colour helpers it shares with inference (stylenet/perceptual/color.py)."""

from __future__ import annotations

import torch

from stylenet.perceptual.color import luminance, preserve_color, rgb_to_yuv, yuv_to_rgb


def test_colour_helpers_round_trip_and_do_not_touch_inputs():
    x = torch.rand(2, 3, 8, 9)
    y = x.clone()
    assert torch.allclose(yuv_to_rgb(rgb_to_yuv(x)), x, atol=1e-5)
    grey = luminance(x)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 0], grey[:, 2])
    out = preserve_color(x[:1], torch.rand(1, 3, 4, 5))  # content resized to the stylised size
    assert out.shape == (1, 3, 4, 5) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(x, y)
