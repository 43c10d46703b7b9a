"""Strokes at the painting's scale: the working size (stylenet/inference/stroke_scale.py) and the Stylizer's
``stroke_scale`` (stylenet/inference/stylizer.py): any size in, the same size out, composed with the other options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import tiny_meta
from helpers import make_multi_checkpoint, photo, tiny_net
from PIL import Image

from stylenet.data import images
from stylenet.inference.stroke_scale import (
    AUTO_MIN_SIDE,
    DEFAULT_STROKE_SCALE,
    MIN_WORKING_SIDE,
    StrokeScaleError,
    stroke_side,
    working_size,
)
from stylenet.inference.stylizer import Stylizer
from stylenet.perceptual.color import rgb_to_yuv

TRAIN_SIDE = tiny_meta()["train"]["image_size"]  # 32


def _tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255


@pytest.fixture
def seen(stylizer, monkeypatch) -> list[tuple[int, int]]:
    """The sizes the network is run at."""
    sizes: list[tuple[int, int]] = []
    run = stylizer.runner.run

    def spy(x):
        sizes.append(tuple(x.shape[-2:]))
        return run(x)

    monkeypatch.setattr(stylizer.runner, "run", spy)
    return sizes


def test_the_default_is_auto_and_one_changes_nothing():
    assert DEFAULT_STROKE_SCALE == "auto"
    assert working_size((157, 301), 1) == (157, 301)
    assert working_size((1000, 1500), 1, TRAIN_SIDE, 300) == (1000, 1500)


def test_auto_paints_at_the_styles_measured_side():
    assert working_size((1000, 1500), "auto", TRAIN_SIDE, 500) == (333, 500)  # S = 3, whatever the training side
    assert working_size((1000, 1500), "auto", None, 500) == (333, 500)
    assert working_size((300, 400), "auto", TRAIN_SIDE, 500) == (300, 400)  # never enlarges
    assert working_size((1000, 1500), "auto", None, None) == (1000, 1500)  # nothing recorded: as the network paints


def test_a_styles_side_comes_from_its_entry_and_a_blend_takes_the_geometric_mean():
    one = {"style": {"name": "wave", "stroke_side": 512}}
    assert stroke_side(one) == 512 and stroke_side({"style": {"name": "wave"}}) is None and stroke_side(None) is None
    multi = {"styles": [{"name": "wave", "stroke_side": 768}, {"name": "udnie", "stroke_side": 192}, {"name": "new"}]}
    assert stroke_side(multi, "udnie") == pytest.approx(192)
    assert stroke_side(multi, {"wave": 1, "udnie": 1}) == pytest.approx(384)  # sqrt(768 * 192)
    assert stroke_side(multi, {"wave": 1, "udnie": 0}) == pytest.approx(768)  # a zero weight does not count
    assert stroke_side(multi, "new") is None and stroke_side(multi, {"wave": 1, "new": 1}) is None
    assert stroke_side(multi, None) is None


def test_a_stylizer_paints_each_style_at_its_recorded_side(tmp_path, monkeypatch):
    from stylenet.networks.checkpoint import load_network
    from stylenet.teacher.strokes import with_stroke_sides

    net, meta = load_network(make_multi_checkpoint(tmp_path / "multi.ckpt"))
    multi = Stylizer(net, with_stroke_sides(meta, {"wave": 128, "udnie": 64, "the_scream": 256}), device="cpu",
                     backend="torch", style="wave")
    sizes = []
    run = multi.runner.run
    monkeypatch.setattr(multi.runner, "run", lambda x: sizes.append(tuple(x.shape[-2:])) or run(x))
    x = torch.rand(1, 3, 200, 256)
    assert multi(x).shape == x.shape
    multi.set_style("udnie")
    multi(x)
    multi(x, stroke_scale=1)
    assert sizes == [(100, 128), (50, 64), (200, 256)]
    assert multi.working_size((200, 256)) == (50, 64)


@pytest.mark.parametrize("size", [(301, 157), (157, 300), (97, 211), (65, 3)])
@pytest.mark.parametrize("scale", [2, 3.5, "auto"])
def test_output_has_the_input_size_at_any_stroke_scale(stylizer, size, scale):
    out = stylizer(photo(size), stroke_scale=scale)
    assert out.size == size and out.mode == "RGB"
    x = _tensor(photo(size))[None].expand(2, -1, -1, -1)
    assert stylizer(x, stroke_scale=scale).shape == x.shape


def test_the_network_paints_the_photo_resized_by_one_over_s(stylizer, seen):
    stylizer(photo((301, 157)), stroke_scale=2)
    stylizer(photo((301, 157)), stroke_scale=3.5)
    stylizer(photo((301, 157)), stroke_scale=100)
    assert seen == [(78, 150), (45, 86), (33, MIN_WORKING_SIDE)]  # long side at least 64
    # auto: the training side on the short side (S = 1.67), unless the working image would be under AUTO_MIN_SIDE
    assert working_size((1000, 1500), "auto", 600) == (600, 900)
    assert working_size((600, 4000), "auto", TRAIN_SIDE) == (115, AUTO_MIN_SIDE)  # S = 5.2, not 18.75
    assert working_size((157, 301), "auto", TRAIN_SIDE) == (157, 301)  # a photo under the bound is painted as it is
    assert working_size((20, 30), "auto", TRAIN_SIDE) == (20, 30)  # never below 1: auto never enlarges
    assert working_size((40, 50), 0.5) == (80, 100)  # S < 1 enlarges


def test_stroke_scale_one_is_pixel_identical_to_no_option(stylizer):
    img = photo((301, 157))
    assert np.array_equal(np.asarray(stylizer(img, stroke_scale=1)), np.asarray(stylizer(img)))
    x = torch.rand(2, 3, 61, 90)
    assert torch.equal(stylizer(x, stroke_scale=1.0), stylizer(x))
    # A photo smaller than the working minimum is painted as it is, whatever S (and auto on a small photo).
    small = torch.rand(1, 3, 40, 60)
    assert torch.equal(stylizer(small, stroke_scale=3), stylizer(small))
    assert torch.equal(stylizer(small, stroke_scale="auto"), stylizer(small))


def test_the_result_is_the_low_res_painting_with_the_photos_edges(stylizer):
    """Not a plain resize: the guided upsampling puts back edges the working image has lost."""
    x = torch.full((1, 3, 200, 300), 0.3)
    x[..., 121:, :] = 0.8  # a sharp horizontal edge off the working image's grid
    y = stylizer(x, stroke_scale=4)
    cols = y[0, :, 100:140, 150]
    assert cols.diff(dim=1).abs().max() > 2 * cols[:, :18].diff(dim=1).abs().max()  # the step is at the photo's edge
    assert cols.diff(dim=1).abs().amax(0).argmax().item() == 20  # between rows 120 and 121


def test_tensors_are_not_modified_and_uint8_is_read_as_0_to_255(stylizer):
    x = torch.rand(2, 3, 121, 90)
    before = x.clone()
    y = stylizer(x, stroke_scale=2)
    assert torch.equal(x, before) and y.dtype == torch.float32 and 0 <= y.min() and y.max() <= 1
    # C×H×W in, C×H×W out. A batch of 2 and a batch of 1 take different float32 conv kernels: up to 3e-5 apart
    # over 200 seeds, so 1e-4 (a wrong item or a wrong resize is off by 1e-2 or more).
    assert torch.allclose(stylizer(x[1], stroke_scale=2), y[1], atol=1e-4)
    as_bytes = (x * 255).round().to(torch.uint8)
    assert (stylizer(as_bytes, stroke_scale=2) - y).abs().mean() < 0.02


def test_strength_blends_with_the_full_size_photo(stylizer):
    x = _tensor(photo((150, 101)))
    full = stylizer(x, stroke_scale=2)
    assert torch.allclose(stylizer(x, stroke_scale=2, strength=0.5), (x + full) / 2, atol=1e-5)
    assert torch.equal(stylizer(x, stroke_scale=2, strength=0.0), x)


def test_colour_preservation_keeps_the_full_size_photos_chroma(stylizer):
    x = 0.25 + 0.5 * _tensor(photo((160, 120)))  # mid-tones: nothing clips
    kept = stylizer(x, stroke_scale=2, preserve_color=True)
    unclipped = ((kept > 0) & (kept < 1)).all(0)
    assert unclipped.float().mean() > 0.5
    assert (rgb_to_yuv(kept)[1:] - rgb_to_yuv(x)[1:])[:, unclipped].abs().max() < 1e-5


def test_alpha_is_carried_through_unchanged(stylizer):
    rgba = photo((160, 90)).convert("RGBA")
    alpha = Image.fromarray(np.tile((np.arange(160) * 1.5).astype(np.uint8), (90, 1)))
    rgba.putalpha(alpha)
    out = stylizer(rgba, stroke_scale=2.5)
    assert out.mode == "RGBA" and out.size == (160, 90)
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_a_tiled_working_image_matches_the_untiled_one(stylizer):
    x = torch.rand(1, 3, 600, 400)
    whole = stylizer(x, stroke_scale=2, tile=None)
    before = stylizer.tiled_images
    tiled = stylizer(x, stroke_scale=2, tile=128, overlap=56, stats_size=300)  # the 300x200 working image in tiles
    assert stylizer.tiled_images == before + 1
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().mean() < 2e-3


def test_many_images_of_several_sizes_keep_their_sizes_and_order(stylizer):
    imgs = [photo((150, 100)), photo((100, 150)), photo((150, 100)).rotate(180)]
    outs = stylizer.stylize_many(imgs, stroke_scale=2, batch_size=2)
    assert [o.size for o in outs] == [(150, 100), (100, 150), (150, 100)]
    alone = stylizer(imgs[2], stroke_scale=2)
    assert np.abs(np.asarray(outs[2], dtype=int) - np.asarray(alone, dtype=int)).max() <= 1


def test_a_multi_style_network_paints_each_style_at_the_stroke_scale(tmp_path):
    multi = Stylizer.from_checkpoint(make_multi_checkpoint(tmp_path / "multi.ckpt"), device="cpu", backend="torch",
                                     style={"wave": 0.5, "udnie": 0.5})
    x = torch.rand(1, 3, 130, 170)
    mixed = multi(x, stroke_scale=2)
    multi.set_style("wave")
    assert mixed.shape == x.shape and (multi(x, stroke_scale=2) - mixed).abs().mean() > 1e-3


@pytest.mark.parametrize("value", [0, -2, math.nan, math.inf, -math.inf, "big", None, 0.1])
def test_bad_stroke_scales_are_one_line_before_any_work(stylizer, seen, value):
    with pytest.raises(StrokeScaleError) as e:
        stylizer(photo((120, 80)), stroke_scale=value)
    assert "\n" not in str(e.value) and "stroke_scale" in str(e.value)
    assert seen == []


def test_an_enlargement_over_the_pixel_limit_is_refused_and_auto_without_a_training_size_paints_as_it_is(stylizer, seen, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 20_000)  # the image limit, scaled down to small photos
    assert stylizer(photo((60, 40)), stroke_scale=0.5).size == (60, 40)  # painted at 120x80 = 9,600 px
    assert seen == [(80, 120)]
    with pytest.raises(StrokeScaleError, match="a 240x160 = 38,400-pixel working image, over the 20,000-pixel limit"):
        stylizer(photo((60, 40)), stroke_scale=0.25)
    bare = Stylizer(tiny_net(), device="cpu", backend="torch")  # no metadata: no training size, no stroke side
    x = torch.rand(1, 3, 900, 1000)
    assert bare.working_size((900, 1000)) == (900, 1000)
    assert torch.equal(bare(x), bare(x, stroke_scale=1))
