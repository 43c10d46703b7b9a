"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from stylenet.data.images import ImageError, load_image, open_image, save_image


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


def test_float_images_in_zero_one_keep_their_brightness(tmp_path):
    import numpy as np

    Image.fromarray(np.full((4, 4), 0.8, dtype=np.float32), "F").save(tmp_path / "f.tif")
    assert load_image(tmp_path / "f.tif").mean().item() == pytest.approx(0.8, abs=0.01)
