"""UniversalStylizer (stylenet/universal/stylizer.py): any size, PIL and tensors, levels, bad style images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import photo, write_universal
from PIL import Image

from stylenet.data.images import ImageError
from stylenet.networks.checkpoint import CheckpointError
from stylenet.perceptual.vgg import ImageTooSmallError
from stylenet.universal.decoder import Decoder
from stylenet.universal.stylizer import UniversalError, UniversalStylizer


@pytest.fixture(scope="module")
def stylizer(tmp_path_factory):
    return UniversalStylizer.from_checkpoint(write_universal(tmp_path_factory.mktemp("u") / "u.ckpt"), device="cpu")


@pytest.fixture(scope="module")
def shallow(tmp_path_factory):
    """Levels 1-3 only: enough for what the style image's reading and tiling do, a third of the time."""
    return UniversalStylizer.from_checkpoint(write_universal(tmp_path_factory.mktemp("u3") / "u.ckpt", levels=(1, 2, 3)), device="cpu")


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    path = tmp_path_factory.mktemp("style") / "painting.png"
    photo((40, 36)).rotate(90).save(path)
    return path


@pytest.mark.parametrize("hw, transform", [((37, 53), "wct"), ((33, 17), "wct"), ((16, 16), "adain"), ((21, 50), "adain")])
def test_any_photo_size_comes_back_at_its_size_finite_and_in_range(stylizer, painting, hw, transform):
    x = torch.rand(3, *hw)
    before = x.clone()
    y = stylizer.stylize(x, painting, transform=transform)
    assert y.shape == x.shape and torch.isfinite(y).all() and 0 <= y.min() and y.max() <= 1
    assert torch.equal(x, before)  # the caller's tensor is untouched


def test_decoders_give_their_input_size_back_at_odd_feature_sizes():
    for k in (1, 3, 5):
        assert Decoder(k)(torch.rand(1, Decoder(k).in_channels, 3, 5)).shape == (1, 3, 3 * 2 ** (k - 1), 5 * 2 ** (k - 1))


def test_pil_in_pil_out_with_alpha_size_and_colour_preservation(stylizer, painting):
    rgba = photo((45, 30), "RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 128))
    out = stylizer(rgba, [painting, painting], weights=[0.7, 0.3], size=40, preserve_color=True, alpha=0.5)
    assert out.mode == "RGBA" and out.size == (40, 27) and out.getchannel("A").getextrema() == (128, 128)


def test_a_photo_too_small_for_the_deep_levels_uses_the_finer_ones(stylizer, painting, caplog):
    y = stylizer.stylize(torch.rand(3, 9, 40), painting)  # 9 px: levels 1-3 (level k needs 2^k px)
    assert y.shape == (3, 9, 40) and torch.isfinite(y).all()
    assert stylizer.usable_levels(9, 40, "wct") == [3, 2, 1] and "too small for level(s) [4, 5]" in caplog.text
    with pytest.raises(ImageTooSmallError, match="too small for AdaIN at relu4_1"):
        stylizer.stylize(torch.rand(3, 9, 40), painting, transform="adain")


def test_wct_on_a_photo_with_too_few_positions_warns_once_with_the_size_that_is_enough(stylizer, caplog):
    with caplog.at_level("WARNING", logger="stylenet.universal.stylizer"):
        stylizer.usable_levels(85, 128, "wct")  # relu5_1: 6×8 = 48 positions for 512 channels
        stylizer.usable_levels(85, 128, "wct")
        stylizer.usable_levels(85, 128, "adain")  # AdaIN matches per-channel statistics only: no warning
    assert caplog.text.count("positions for its") == 1
    assert "a 128x85 photo gives relu5_1 only 48 positions for its 512 channels" in caplog.text
    need = int(caplog.text.split("--size ")[1].split()[0])
    caplog.clear()
    with caplog.at_level("WARNING", logger="stylenet.universal.stylizer"):
        stylizer.usable_levels(round(need * 85 / 128), need, "wct")  # at the size it names: enough positions
    assert "positions for its" not in caplog.text


def test_a_missing_level_names_it_and_the_command_to_train_it(tmp_path, painting):
    u = UniversalStylizer.from_checkpoint(write_universal(tmp_path / "u.ckpt", levels=(1, 2, 3)), device="cpu")
    assert u.stylize(torch.rand(3, 32, 32), painting).shape == (3, 32, 32)  # WCT uses the levels it has
    with pytest.raises(CheckpointError, match=r"no decoder for level 4 \(relu4_1\), which transform=adain needs.*decoders.levels=\[4\]"):
        u.stylize(torch.rand(3, 32, 32), painting, transform="adain")


def _save(path, arr, mode=None):
    Image.fromarray(arr, mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


@pytest.mark.parametrize("kind", ["1x1", "grey", "16bit", "alpha", "flat", "thin"])
def test_odd_style_images_stylise_without_nan(shallow, tmp_path, kind):
    arr = {
        "1x1": lambda: _save(tmp_path / "s.png", np.full((1, 1, 3), 200, np.uint8)),
        "grey": lambda: _save(tmp_path / "s.png", (np.random.default_rng(0).random((30, 30)) * 255).astype(np.uint8)),
        "16bit": lambda: _save(tmp_path / "s.png", (np.random.default_rng(0).random((30, 30)) * 65535).astype(np.uint16)),
        "alpha": lambda: _save(tmp_path / "s.png", (np.random.default_rng(0).random((30, 30, 4)) * 255).astype(np.uint8)),
        "flat": lambda: _save(tmp_path / "s.png", np.full((30, 30, 3), 90, np.uint8)),
        "thin": lambda: _save(tmp_path / "s.png", (np.random.default_rng(0).random((2, 60, 3)) * 255).astype(np.uint8)),  # tiled
    }[kind]()
    y = shallow.stylize(torch.rand(3, 32, 32), arr)
    assert torch.isfinite(y).all()


def test_an_unreadable_style_image_is_one_line(stylizer, tmp_path):
    (tmp_path / "s.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="s.jpg"):
        stylizer.stylize(torch.rand(3, 32, 32), tmp_path / "s.jpg")
    with pytest.raises(UniversalError, match="alpha must be between 0 and 1"):
        stylizer.stylize(torch.rand(3, 32, 32), torch.rand(3, 20, 20), alpha=1.5)


def test_palette_recolours_to_the_painting_where_asked_and_refuses_what_contradicts_it(stylizer, painting):
    from stylenet.perceptual.color import color_stats
    from stylenet.universal.stylizer import check_palette

    x = photo((40, 32))
    styles = stylizer.prepare_styles(painting)
    mean, _ = styles.palette()
    seen = []  # what the encoder is given: with palette=before, the photo already in the painting's colours
    hook = stylizer.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    try:
        plain = stylizer.stylize(x, styles, transform="adain")
        after = stylizer.stylize(x, styles, transform="adain", palette="after")
        stylizer.stylize(x, styles, transform="adain", palette="before")
    finally:
        hook.remove()
    t = [torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1) for im in (plain, after)]
    gap = [(color_stats(y)[0] - mean).abs().max().item() for y in t]
    assert gap[1] < 0.01 < gap[0]  # after the decoder: the painting's mean colour, up to 8-bit rounding and clamping
    enc = [(color_stats(y)[0] - mean).abs().max().item() for y in seen]
    assert enc[0] > 0.03 and enc[1] > 0.03 and enc[2] < 0.01  # before: a recoloured photo (then padded)
    assert stylizer.stylize(x, styles, transform="adain", palette=True) == after == stylizer.stylize(x, styles, transform="adain", palette="auto")
    # auto gives way to preserve_color (the photo's colours); an explicit palette beside it is refused
    assert check_palette("auto", preserve_color=True) is None and check_palette("auto") == "after"
    assert stylizer.stylize(x, styles, transform="adain", palette=None) == plain
    with pytest.raises(UniversalError, match="exclude each other"):
        stylizer.stylize(x, styles, transform="adain", palette="after", preserve_color=True)
    with pytest.raises(UniversalError, match="before, after, both"):
        check_palette("always")
    with pytest.raises(UniversalError, match="exclude each other"):
        check_palette("before", preserve_color=True)


@pytest.mark.parametrize("painting_image", [Image.new("RGB", (1, 1), (200, 30, 30)), Image.new("RGB", (20, 20), (0, 0, 0)),
                                            photo((30, 30)).convert("L"), photo((30, 24), "RGBA")],
                         ids=["one-pixel", "black", "grey", "alpha"])
def test_palette_with_hostile_paintings_is_finite_and_takes_their_mean_colour(stylizer, tmp_path, painting_image):
    from stylenet.perceptual.color import color_stats

    path = tmp_path / "painting.png"
    painting_image.save(path)
    styles = stylizer.prepare_styles(path)
    y = stylizer.stylize(torch.rand(3, 40, 40), styles, transform="adain", palette="after")
    assert torch.isfinite(y).all()
    torch.testing.assert_close(color_stats(y)[0], styles.palette()[0], atol=0.02, rtol=0)
