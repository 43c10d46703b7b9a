"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import os
import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from conftest import ROOT, without_blocking
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
    Image.fromarray(np.full((4, 4), 0.8, dtype=np.float32), "F").save(tmp_path / "f.tif")
    assert load_image(tmp_path / "f.tif").mean().item() == pytest.approx(0.8, abs=0.01)




def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match=r"x\.jpg: not a regular file"):
        without_blocking(lambda: open_image(fifo), fifo)


def png_declaring(width: int, height: int, rows: int) -> bytes:
    """A valid grey PNG header declaring width×height, with a complete zlib stream of only ``rows`` rows:
    Pillow fills the rest with black instead of calling it truncated."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1) * rows)) + chunk(b"IEND", b""))


def test_a_tiny_file_declaring_a_huge_image_is_refused_and_truncation_is_named(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_declaring(5000, 5000, rows=2))
    with pytest.raises(ImageError, match=r"bomb\.png: declares 5000x5000 .* in only \d+ bytes"):
        open_image(tmp_path / "bomb.png")
    big = tmp_path / "big.jpg"  # a real 4.5 Mpx photo is far from the bound
    Image.open(ROOT / "assets" / "sample" / "chelsea.jpg").resize((2500, 1800)).save(big)
    assert open_image(big).size == (2500, 1800)
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 64), "red").save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:-30])
    with pytest.raises(ImageError) as e:
        open_image(tmp_path / "cut.png")
    assert str(e.value).startswith(f"{tmp_path / 'cut.png'}: truncated") and "OSError" not in str(e.value)


@pytest.mark.parametrize("top", [2**31 - 1, 2**20 - 1])
def test_thirty_two_bit_integer_images_are_scaled_by_their_range(tmp_path, top):
    ramp = np.linspace(0, top, 64 * 4).reshape(4, 64).astype(np.int32)  # black to white
    Image.fromarray(ramp).save(tmp_path / "i32.tif")
    x = load_image(tmp_path / "i32.tif")
    assert x.min().item() == 0 and x.max().item() == pytest.approx(1.0, abs=0.01)
    assert x.mean().item() == pytest.approx(0.5, abs=0.02)


def test_float_images_need_a_finite_pixel_and_nan_pixels_are_black(tmp_path):
    arr = np.full((4, 4), np.nan, dtype=np.float32)
    Image.fromarray(arr, "F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageError, match=r"nan\.tif: no finite pixel values"):
        open_image(tmp_path / "nan.tif")
    arr[0, 0] = 0.5
    Image.fromarray(arr, "F").save(tmp_path / "some.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = load_image(tmp_path / "some.tif")
    assert x[0, :, 0, 0].tolist() == pytest.approx([0.5] * 3, abs=0.01) and x[0, :, 1:].max() == 0
