"""Edge-aware upsampling with the guided filter (stylenet/inference/guided.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT

from stylenet.data.images import load_image, resize_tensor
from stylenet.inference.guided import box_filter, coefficients, guided_upsample


def _step_photo(h=96, w=128, at=61) -> torch.Tensor:
    """A colour photo with one sharp vertical edge at column ``at`` (off the 4-pixel grid of the downscale)."""
    x = torch.empty(1, 3, h, w)
    x[:, :, :, :at] = torch.tensor([0.2, 0.1, 0.3]).view(1, 3, 1, 1)
    x[:, :, :, at:] = torch.tensor([0.8, 0.9, 0.3]).view(1, 3, 1, 1)
    return x


def _paint(x: torch.Tensor) -> torch.Tensor:
    """A "stylisation" that is not the photo: other colours, a non-linear curve."""
    return torch.cat([1 - x[:, :1], 0.5 * x[:, 1:2] + 0.2, x[:, 1:2] ** 2], 1)


def _transition_width(y: torch.Tensor) -> int:
    """Pixels of a row strictly between 10 % and 90 % of the way across the edge (0: a one-pixel step)."""
    row = y[0, 1, y.shape[-2] // 2]
    lo, hi = row[:30].mean(), row[-30:].mean()
    t = (row - lo) / (hi - lo)
    return int(((t > 0.1) & (t < 0.9)).sum())


def test_a_step_edge_stays_sharp_where_bilinear_blurs_it():
    photo = _step_photo()
    small = resize_tensor(photo, (24, 32))  # 4x down: the edge is smeared over two low-res pixels
    painted_small, want = _paint(small), _paint(photo)
    guided = guided_upsample(small, painted_small, photo)
    bilinear = F.interpolate(painted_small, size=photo.shape[-2:], mode="bilinear", align_corners=False)
    assert _transition_width(bilinear) >= 4
    assert _transition_width(guided) <= 1
    assert (guided - want).abs().mean() < (bilinear - want).abs().mean() / 3
    # The steepest step across the edge is (almost) the whole jump, as in the full-size stylisation.
    jump = (want[0, 1, 48, -1] - want[0, 1, 48, 0]).abs()
    assert guided[0, 1, 48].diff().abs().max() > 0.9 * jump > 2 * bilinear[0, 1, 48].diff().abs().max()


def test_a_photo_comes_back_from_a_quarter_of_its_size_far_closer_than_bilinear():
    photo = load_image(ROOT / "assets" / "sample" / "coffee.jpg")
    small = resize_tensor(photo, (photo.shape[-2] // 4, photo.shape[-1] // 4))
    psnr = lambda y: (10 * torch.log10(1 / ((y.clamp(0, 1) - photo) ** 2).mean())).item()  # noqa: E731
    bilinear = F.interpolate(small, size=photo.shape[-2:], mode="bilinear", align_corners=False)
    assert psnr(guided_upsample(small, small, photo)) > psnr(bilinear) + 6


def test_bands_give_the_whole_image_result_and_touch_nothing():
    torch.manual_seed(0)
    guide_low, src_low, guide = torch.rand(2, 3, 23, 31), torch.rand(2, 3, 23, 31), torch.rand(2, 3, 70, 95)
    before = guide.clone()
    # The whole-image reference: coefficients everywhere, upsampled with F.interpolate, applied to the guide.
    a, b = coefficients(guide_low, src_low, radius=1, eps=1e-3)
    up = F.interpolate(torch.cat([a.flatten(1, 2), b], 1), size=(70, 95), mode="bilinear", align_corners=False)
    want = up[:, 9:] + (up[:, :9].view(2, 3, 3, 70, 95) * guide[:, None]).sum(2)
    for band_pixels in (1, 2 * 95 * 7, 10**9):  # one row, seven rows, everything at once
        got = guided_upsample(guide_low, src_low, guide, radius=1, eps=1e-3, band_pixels=band_pixels)
        assert torch.allclose(got, want, atol=1e-5)
    assert torch.equal(guide, before)
    as_bytes = (guide * 255).round().to(torch.uint8)  # a uint8 guide is read as 0-255, band by band
    assert torch.allclose(guided_upsample(guide_low, src_low, as_bytes), guided_upsample(guide_low, src_low, as_bytes / 255.0))


def test_coefficients_solve_the_colour_guided_filter():
    torch.manual_seed(1)
    guide, src = torch.rand(1, 3, 17, 19).double(), torch.rand(1, 2, 17, 19).double()
    a, b = coefficients(guide, src, radius=2, eps=1e-3)
    # He et al. 2013, eq. (14) per pixel with a general solver, then the box averages of a and b.
    mean_i, mean_p = box_filter(guide, 2), box_filter(src, 2)
    cov = torch.stack([torch.stack([box_filter(src[:, c:c + 1] * guide[:, k:k + 1], 2)[:, 0] - mean_p[:, c] * mean_i[:, k]
                                    for k in range(3)], 1) for c in range(2)], 1)
    var = torch.stack([torch.stack([box_filter(guide[:, i:i + 1] * guide[:, j:j + 1], 2)[:, 0] - mean_i[:, i] * mean_i[:, j]
                                    for j in range(3)], 1) for i in range(3)], 1)
    sigma = var.permute(0, 3, 4, 1, 2) + 1e-3 * torch.eye(3, dtype=torch.float64)
    a_ref = torch.linalg.solve(sigma, cov.permute(0, 3, 4, 2, 1)).permute(0, 4, 3, 1, 2)
    b_ref = mean_p - (a_ref * mean_i[:, None]).sum(2)
    assert torch.allclose(a, box_filter(a_ref.flatten(1, 2), 2).view_as(a_ref), atol=1e-9)
    assert torch.allclose(b, box_filter(b_ref, 2), atol=1e-9)


def test_bad_parameters_are_refused():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="eps > 0"):
        guided_upsample(x, x, torch.rand(1, 3, 16, 16), eps=0)
    with pytest.raises(ValueError, match="must be B×3 images"):
        guided_upsample(x, x, torch.rand(2, 3, 16, 16))
