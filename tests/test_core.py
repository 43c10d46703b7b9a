"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import SHARED_WEIGHTS, tiny_meta
from PIL import Image

from stylenet.data.images import ImageError, load_image, open_image, save_image
from stylenet.networks.checkpoint import CheckpointError, atomic_save, load_network, read_checkpoint
from stylenet.networks.transformer import TransformerNet, run_any_size
from stylenet.perceptual.loss import build_perceptual_loss, gram_matrix, total_variation
from stylenet.perceptual.vgg import LAYER_INDEX, VGGEncoder, VGGWeightsError


@pytest.mark.parametrize("size", [(256, 256), (64, 48), (1, 1), (3, 5), (17, 31), (101, 7)])
def test_transformer_keeps_any_input_size(size):
    net = TransformerNet(8, 1).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = run_any_size(net, x)
    assert y.shape == x.shape


def test_transformer_widths_and_blocks_are_configurable():
    full, half = TransformerNet(), TransformerNet(base_channels=16)
    n_full = sum(p.numel() for p in full.parameters())
    n_half = sum(p.numel() for p in half.parameters())
    assert 1.6e6 < n_full < 1.8e6  # the paper's network: ~1.68 M parameters
    assert n_half < n_full / 3.5
    assert len(TransformerNet(num_residual_blocks=2).residuals) == 2


def test_transformer_does_not_modify_its_input():
    net = TransformerNet(8, 1)
    x = torch.rand(1, 3, 32, 32)
    x0 = x.clone()
    net(x)
    assert torch.equal(x, x0)


def test_encoder_names_layers_and_stops_at_the_deepest():
    enc = VGGEncoder(["relu1_2", "relu3_3"], weights="random")
    feats = enc(torch.rand(1, 3, 64, 64))
    assert set(feats) == {"relu1_2", "relu3_3"}
    assert feats["relu1_2"].shape == (1, 64, 64, 64)
    assert feats["relu3_3"].shape == (1, 256, 16, 16)
    assert len(enc.features) == LAYER_INDEX["relu3_3"] + 1  # nothing after relu3_3 is built
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training


def test_encoder_normalises_inside_without_touching_the_caller_tensor():
    enc = VGGEncoder(["relu1_1"], weights="random")
    x = torch.rand(1, 3, 16, 16)
    x0 = x.clone()
    enc(x)
    assert torch.equal(x, x0)
    grey = torch.full((1, 3, 8, 8), 0.5)
    h = (grey - enc.mean) / enc.std
    assert torch.allclose(h[0, :, 0, 0], torch.tensor([(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225]))


def test_encoder_rejects_unknown_layers():
    with pytest.raises(ValueError, match="relu9_9"):
        VGGEncoder(["relu9_9"], weights="random")


def test_missing_weights_file_names_the_way_out(tmp_path):
    with pytest.raises(VGGWeightsError, match="loss.weights="):
        VGGEncoder(["relu1_1"], weights=str(tmp_path / "nope.pth"))


def test_offline_imagenet_weights_fail_with_a_clear_message(monkeypatch):
    def offline(*args, **kwargs):
        import urllib.error

        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(VGGWeightsError) as e:
        VGGEncoder(["relu1_1"], weights="IMAGENET1K_V1")
    msg = str(e.value)
    assert "IMAGENET1K_V1" in msg and "loss.weights=" in msg and "\n" not in msg
    assert "loss=vgg19" in msg and "embedded" in msg  # the way out that needs no download


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


def _loss(**kw):
    return build_perceptual_loss(weights="random", **kw)


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


def _scale_features(encoder, k):
    """Scale every VGG feature map by k exactly (first conv's weights and every bias by k: ReLU is
    positively homogeneous), as a weight file with another input convention would."""
    convs = [m for m in encoder.features if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        convs[0].weight.mul_(k)
        for conv in convs:
            conv.bias.mul_(k)


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


def test_pixels_round_trip_in_zero_one(tmp_path):
    x = torch.rand(1, 3, 9, 13)
    save_image(x, tmp_path / "x.png")
    y = load_image(tmp_path / "x.png")
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert 0 <= y.min() and y.max() <= 1
    assert (y - x).abs().max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1"])
def test_every_pillow_mode_opens_as_rgb(tmp_path, mode):
    img = Image.new("RGB", (10, 7), (200, 100, 50)).convert(mode)
    path = tmp_path / ("x.tif" if mode in ("I;16", "I", "F", "CMYK") else "x.png")
    img.save(path)
    rgb = open_image(path)
    assert rgb.mode == "RGB" and rgb.size == (10, 7)


def test_sixteen_bit_grey_keeps_its_range(tmp_path):
    img = Image.new("I;16", (4, 4), 65535)
    img.save(tmp_path / "w.png")
    assert load_image(tmp_path / "w.png").min().item() == pytest.approx(1.0)


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.new("RGB", (20, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert open_image(tmp_path / "r.jpg").size == (10, 20)


def test_broken_and_missing_images_raise_one_line_errors(tmp_path):
    (tmp_path / "text.jpg").write_text("not an image")
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), "red").save(good)
    (tmp_path / "trunc.jpg").write_bytes(good.read_bytes()[:200])
    for name in ["text.jpg", "trunc.jpg", "missing.jpg"]:
        with pytest.raises(ImageError) as e:
            open_image(tmp_path / name)
        assert name in str(e.value) and "\n" not in str(e.value)


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    net = TransformerNet(8, 1)
    atomic_save({"stylenet": tiny_meta(), "state_dict": net.state_dict()}, tmp_path / "n.pth")
    loaded, meta = load_network(tmp_path / "n.pth")
    assert meta["style"]["name"] == "wave"
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), net.eval()(x))
    data = (tmp_path / "n.pth").read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 2])
    torch.save({"foo": 1}, tmp_path / "foreign.pth")
    (tmp_path / "text.pth").write_text("hello")
    for name, pattern in [("trunc.pth", "not a readable"), ("foreign.pth", "not a stylenet"), ("text.pth", "not a readable"), ("none.pth", "not found")]:
        with pytest.raises(CheckpointError, match=pattern):
            read_checkpoint(tmp_path / name)


def test_checkpoint_refuses_to_unpickle_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"stylenet": tiny_meta(), "state_dict": {}, "x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()


def test_atomic_save_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "c.pth"
    atomic_save({"v": 1}, path)

    def boom(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pth"]  # no temporary left behind


@pytest.mark.skipif(not SHARED_WEIGHTS.exists(), reason="needs ../shared/weights/vgg16_features_hed_bsds500.pth")
def test_real_weights_load_into_the_encoder():
    enc = VGGEncoder(["relu4_3"], weights=str(SHARED_WEIGHTS))
    feats = enc(torch.rand(1, 3, 32, 32))["relu4_3"]
    assert feats.shape == (1, 512, 4, 4) and feats.abs().sum() > 0



def test_float_images_in_zero_one_keep_their_brightness(tmp_path):
    import numpy as np

    Image.fromarray(np.full((4, 4), 0.8, dtype=np.float32), "F").save(tmp_path / "f.tif")
    assert load_image(tmp_path / "f.tif").mean().item() == pytest.approx(0.8, abs=0.01)
