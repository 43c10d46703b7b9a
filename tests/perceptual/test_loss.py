"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import pytest
import torch

from stylenet.perceptual.loss import build_perceptual_loss, gram_matrix, total_variation


def _scale_features(encoder, k):
    """Scale every VGG feature map by k exactly (first conv's weights and every bias by k: ReLU is
    positively homogeneous), as a weight file with another input convention would."""
    convs = [m for m in encoder.features if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        convs[0].weight.mul_(k)
        for conv in convs:
            conv.bias.mul_(k)


def _loss(**kw):
    return build_perceptual_loss(weights="random", **kw)


def test_gram_is_normalised_by_c_h_w():
    f = torch.ones(2, 3, 4, 5)
    g = gram_matrix(f)
    assert g.shape == (2, 3, 3)
    assert torch.allclose(g, torch.full((2, 3, 3), 20 / 60))  # (H·W) / (C·H·W)


def test_total_variation_is_zero_for_flat_images_and_positive_for_noise():
    assert total_variation(torch.full((1, 3, 8, 8), 0.3)).item() == 0
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, 0, 0] = 1.0
    # two vertical and two horizontal differences of 1 among 2 + 2 pairs: 0.5 + 0.5
    assert total_variation(x).item() == pytest.approx(1.0)


def test_loss_terms_are_named_weighted_and_sum_to_total():
    torch.manual_seed(0)
    loss = _loss(content_weight=2.0, style_weight=3.0, tv_weight=5.0)
    loss.set_style(torch.rand(1, 3, 48, 48))
    out, content = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    terms = loss(out, content)
    assert set(terms) == {"content", "style", "tv", "total"}
    assert torch.allclose(terms["total"], terms["content"] + terms["style"] + terms["tv"])
    assert terms["tv"].item() == pytest.approx(5.0 * total_variation(out).item(), rel=1e-5)
    unweighted = _loss(content_weight=1.0, style_weight=1.0, tv_weight=1.0)
    unweighted.encoder.load_state_dict(loss.encoder.state_dict())
    unweighted.set_style(torch.rand(1, 3, 48, 48))  # content does not depend on the style
    c1 = unweighted(out, content)["content"]
    assert terms["content"].item() == pytest.approx(2.0 * c1.item(), rel=1e-5)


def test_normalised_terms_are_relative_errors():
    torch.manual_seed(0)
    loss = _loss(normalize=True, style_weight=1.0, content_weight=1.0, tv_weight=0.0)
    loss.set_style(torch.rand(1, 3, 48, 48))
    out, photo = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    fo, fp = loss.encoder(out), loss.encoder(photo)
    style = sum(((gram_matrix(fo[l]) - getattr(loss, f"target_gram_{l}")) ** 2).mean()
                / getattr(loss, f"target_gram_{l}").pow(2).mean() for l in loss.style_layers)
    content = ((fo["relu2_2"] - fp["relu2_2"]) ** 2).mean() / fp["relu2_2"].pow(2).mean()
    terms = loss(out, photo)
    assert terms["style"].item() == pytest.approx(style.item(), rel=1e-4)
    assert terms["content"].item() == pytest.approx(content.item(), rel=1e-4)


def test_content_loss_is_zero_for_the_photo_itself_and_style_loss_zero_for_the_style_itself():
    torch.manual_seed(0)
    loss = _loss()
    style = torch.rand(1, 3, 32, 32)
    loss.set_style(style)
    photo = torch.rand(1, 3, 32, 32)
    assert loss(photo, photo)["content"].item() == 0
    assert loss(style, style)["style"].item() == pytest.approx(0, abs=1e-6)
    assert loss(photo, photo)["style"].item() > 0


def test_style_grams_are_computed_once_and_broadcast_over_the_batch():
    torch.manual_seed(0)
    loss = _loss()
    loss.set_style(torch.rand(1, 3, 40, 40))
    calls = []
    loss.encoder.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    x = torch.rand(3, 3, 32, 32)
    terms = loss(x, x)
    assert calls == [3, 3]  # content photos and outputs only: the style image is never re-encoded
    # per-sample style losses of a batch equal the batch's
    singles = torch.stack([loss(x[i : i + 1], x[i : i + 1])["style"] for i in range(3)]).mean()
    assert terms["style"].item() == pytest.approx(singles.item(), rel=1e-5)


def test_single_pass_gives_the_same_loss_as_two_passes():
    torch.manual_seed(0)
    a = _loss(tv_weight=1.0)
    b = _loss(tv_weight=1.0, single_pass=True)
    b.encoder.load_state_dict(a.encoder.state_dict())
    style = torch.rand(1, 3, 32, 32)
    a.set_style(style)
    b.set_style(style)
    out, content = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    ta, tb = a(out, content), b(out, content)
    for k in ta:
        assert ta[k].item() == pytest.approx(tb[k].item(), rel=1e-4)


def test_loss_backpropagates_to_the_output_only():
    loss = _loss()
    loss.set_style(torch.rand(1, 3, 32, 32))
    out = torch.rand(1, 3, 32, 32, requires_grad=True)
    content = torch.rand(1, 3, 32, 32)
    loss(out, content)["total"].backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_loss_without_style_is_a_clear_error():
    with pytest.raises(RuntimeError, match="set_style"):
        _loss()(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))


@pytest.mark.parametrize("normalize", [True, False])
def test_normalised_loss_does_not_depend_on_the_feature_scale_of_the_vgg_weights(normalize):
    torch.manual_seed(0)
    style, out, content = torch.rand(1, 3, 48, 48), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    a, b = _loss(normalize=normalize), _loss(normalize=normalize)
    b.encoder.load_state_dict(a.encoder.state_dict())
    _scale_features(b.encoder, 58.0)  # ~ a Caffe-converted file against torchvision's
    a.set_style(style), b.set_style(style)
    ta, tb = a(out, content), b(out, content)
    if normalize:
        for k in ("content", "style"):
            assert tb[k].item() == pytest.approx(ta[k].item(), rel=1e-3)
    else:  # raw units: content grows with k², style with k⁴
        assert tb["content"].item() == pytest.approx(58.0**2 * ta["content"].item(), rel=1e-3)
        assert tb["style"].item() == pytest.approx(58.0**4 * ta["style"].item(), rel=1e-3)
