"""WCT and AdaIN (stylenet/universal/transforms.py): the statistics they promise, blends, flat inputs."""

from __future__ import annotations

import pytest
import torch

from stylenet.universal.transforms import adain, efdm, transform_features, wct


def _features(seed: int, c: int = 8, hw=(12, 10)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(c, c, generator=g)  # correlated channels, as VGG features are
    return (mix @ torch.randn(c, hw[0] * hw[1], generator=g)).reshape(1, c, *hw) + torch.randn(1, c, 1, 1, generator=g)


def _stats(f: torch.Tensor):
    x = f.reshape(f.shape[1], -1).double()
    return x.mean(1), torch.cov(x)


def test_wct_gives_the_content_the_style_mean_and_covariance_and_keeps_its_shape():
    content, style = _features(0), _features(1, hw=(9, 14))
    out = wct(content, style)
    assert out.shape == content.shape and out.dtype == content.dtype
    mean_o, cov_o = _stats(out)
    mean_s, cov_s = _stats(style)
    torch.testing.assert_close(mean_o, mean_s, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(cov_o, cov_s, rtol=1e-3, atol=1e-3)
    # ... and not by replacing the content: its spatial structure is still there.
    assert torch.corrcoef(torch.stack([out.flatten(), content.flatten()]))[0, 1].abs() > 0.1


def test_adain_matches_each_channels_mean_and_std():
    content, style = _features(2), _features(3)
    out = adain(content, style)
    torch.testing.assert_close(out.mean((2, 3)), style.mean((2, 3)), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.std((2, 3), unbiased=False), style.std((2, 3), unbiased=False), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("transform", ["wct", "adain", "efdm"])
def test_alpha_zero_is_the_content_and_alpha_blends_linearly(transform):
    content, style = _features(4), _features(5)
    assert torch.equal(transform_features(content, [style], alpha=0.0, transform=transform), content)
    full = transform_features(content, [style], alpha=1.0, transform=transform)
    half = transform_features(content, [style], alpha=0.5, transform=transform)
    torch.testing.assert_close(half, 0.5 * full + 0.5 * content)


def test_several_styles_blend_their_transformed_features_by_normalised_weights():
    content, s1, s2 = _features(6), _features(7), _features(8)
    mixed = transform_features(content, [s1, s2], weights=[3, 1])
    torch.testing.assert_close(mixed, 0.75 * wct(content, s1) + 0.25 * wct(content, s2))
    torch.testing.assert_close(transform_features(content, [s1, s2], weights=[1, 0]), wct(content, s1))
    with pytest.raises(ValueError, match="one weight per style"):
        transform_features(content, [s1, s2], weights=[1])
    with pytest.raises(ValueError, match="not all 0"):
        transform_features(content, [s1], weights=[0])


@pytest.mark.parametrize("transform", ["wct", "adain"])
def test_flat_photo_or_painting_never_gives_nan(transform):
    """Zero covariance (a single-colour photo or painting, or a 1×1 feature map): finite, and the painting's mean."""
    flat_c, flat_s, rich = torch.full((1, 8, 6, 6), 2.0), torch.full((1, 8, 5, 5), 0.7), _features(9, hw=(6, 6))
    for content, style in [(flat_c, rich), (rich, flat_s), (flat_c, flat_s), (rich[..., :1, :1], rich), (rich, rich[..., :1, :1])]:
        out = transform_features(content, [style], transform=transform)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out.mean((2, 3)), style.mean((2, 3)), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(transform_features(rich, [flat_s], transform=transform), flat_s.mean((2, 3), keepdim=True).expand_as(rich),
                               rtol=0, atol=2e-2)  # a flat painting paints its colour (AdaIN: up to sqrt(eps) of texture)


def test_efdm_gives_each_channel_the_paintings_values_in_the_photos_order():
    content, style = _features(10), _features(11)
    out = efdm(content, style)  # the same number of positions: exactly the painting's values, rearranged
    assert out.shape == content.shape and out.dtype == content.dtype
    torch.testing.assert_close(out.flatten(2).sort(-1).values, style.flatten(2).sort(-1).values)
    assert torch.equal(out.flatten(2).argsort(-1), content.flatten(2).argsort(-1))
    bigger = _features(12, hw=(9, 7))  # another count: the painting's quantiles, resampled
    q = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    torch.testing.assert_close(torch.quantile(efdm(content, bigger).flatten(2).double(), q, dim=-1),
                               torch.quantile(bigger.flatten(2).double(), q, dim=-1), atol=0.15, rtol=0)


def test_efdm_gives_tied_values_one_value_whatever_their_place():
    """After a ReLU many positions tie at 0; they take one value (the mean of the painting's over their ranks), not a
    ramp in the order the sort left them."""
    content = torch.relu(_features(13, hw=(8, 8)) - 0.5)
    style = torch.relu(_features(14, hw=(8, 8)) + 0.5)  # fewer zeros: the tied zeros must take positive values
    out = efdm(content, style)
    for c in range(content.shape[1]):
        zeros = content[0, c] == 0
        assert zeros.sum() > 2 and out[0, c][zeros].unique().numel() == 1
    flat = efdm(torch.full((1, 8, 6, 6), 2.0), style)  # one big tie: each channel the painting's mean
    torch.testing.assert_close(flat.mean((2, 3)), style.mean((2, 3)), atol=1e-4, rtol=0)
    assert torch.isfinite(efdm(content[..., :1, :1], style)).all() and torch.isfinite(efdm(content, style[..., :1, :1])).all()


def test_wct_with_the_painting_prepared_once_is_li_et_als_four_products():
    from stylenet.universal.transforms import EPS, THRESHOLD, _centred_eigh, _flat, wct_style

    torch.manual_seed(3)
    content, style = torch.rand(16, 9, 11) * 50, torch.rand(16, 7, 13) * 80
    # Li et al. §3.2 as written: whiten (E_c D_c^-½ E_c^T), then colour (E_s D_s^½ E_s^T), then the painting's mean
    _, centred, dc, ec = _centred_eigh(_flat(content), EPS, THRESHOLD)
    ms, _, ds, es = _centred_eigh(_flat(style), EPS, THRESHOLD)
    reference = (es @ torch.diag(ds.sqrt()) @ (es.T @ (ec @ torch.diag(dc.rsqrt()) @ (ec.T @ centred))) + ms).reshape(content.shape)
    torch.testing.assert_close(wct(content, style), reference.float())
    torch.testing.assert_close(wct(content, wct_style(style)), wct(content, style), rtol=0, atol=0)


def test_adain_with_the_painting_prepared_once_is_huang_and_belonges_formula_in_float64():
    from stylenet.universal.style_set import StyleSet
    from stylenet.universal.transforms import EPS, AdainStyle, adain_style

    torch.manual_seed(4)
    content, style = torch.rand(1, 16, 9, 11) * 500, torch.rand(1, 16, 7, 13) * 800  # VGG's Caffe-unit magnitudes
    fc, fs = content[0].reshape(16, -1).double(), style[0].reshape(16, -1).double()
    sd = lambda f: (f.var(1, unbiased=False, keepdim=True) + EPS).sqrt()  # noqa: E731
    reference = ((fc - fc.mean(1, keepdim=True)) / sd(fc) * sd(fs) + fs.mean(1, keepdim=True)).reshape(content.shape)
    out = adain(content, style)
    assert out.dtype == content.dtype and out.shape == content.shape
    torch.testing.assert_close(out.double(), reference, rtol=1e-5, atol=1e-4)  # float32 statistics of the photo
    torch.testing.assert_close(adain(content, adain_style(style)), out, rtol=0, atol=0)
    with pytest.raises(ValueError, match="one image at a time"):
        adain(torch.cat([content, content]), style)
    # a StyleSet computes the painting's side once per layer and keeps it
    styles = StyleSet(["p"], [{"relu4_1": style}], [1.0], [(torch.zeros(3), torch.eye(3))])
    first = styles.for_transform("relu4_1", "adain", torch.device("cpu"))
    assert isinstance(first[0], AdainStyle) and styles.for_transform("relu4_1", "adain", torch.device("cpu")) is first
    assert torch.equal(styles.for_transform("relu4_1", "efdm", torch.device("cpu"))[0], style)
