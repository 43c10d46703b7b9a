"""A new painting in a minute (stylenet/inference/adapt.py): a multi-style network learns one more style's
conditional-norm row and nothing else; the same seed and steps give the same row; the row is read back from a
cache keyed by content; hostile paintings are one line or work. Tiny networks and a random VGG: seconds each."""

from __future__ import annotations

import shutil
import struct
import zlib

import numpy as np
import pytest
import torch
from conftest import ROOT
from helpers import LOSS, make_multi_checkpoint, photo
from PIL import Image

from stylenet.data import images
from stylenet.errors import StylenetError
from stylenet.inference import adapt as adapt_module
from stylenet.inference.adapt import AdaptError, adapt_style, check_seconds
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import load_network

STARRY = ROOT / "assets" / "styles" / "starry_night.jpg"
FAST = dict(seconds=None, steps=2, init="mean")


@pytest.fixture(autouse=True)
def _one_thread():
    # Networks this small run faster on one thread than on two (measured: 2 threads spent 0.9 s of a 1.8 s
    # step handing work over on a busy 2-core machine; one thread, 0.03 s).
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny three-style network; its loss cut at relu2_2 (a random VGG: shapes, not quality)."""
    net, meta = load_network(make_multi_checkpoint(tmp_path_factory.mktemp("net") / "multi.ckpt"))
    return net, {**meta, "loss": dict(LOSS)}


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_only_the_new_row_learns_and_the_base_network_is_untouched(base, tmp_path):
    net, meta = base
    before, meta_before = _state(net), repr(meta)
    a = adapt_style(net, meta, STARRY, seconds=None, steps=3, init="mean", cache_folder=tmp_path)
    assert a.steps == 3 and not a.cached and a.style == "starry_night" and a.net.num_styles == 4
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items()) and repr(meta) == meta_before
    moved = 0
    for key, value in a.net.state_dict().items():
        old = before[key]
        if key.endswith((".scale", ".shift")):
            assert torch.equal(value[:3], old), key  # the old styles' rows: bit for bit
            moved += not torch.allclose(value[3], old.mean(0))  # the new row left its start (the mean)
        else:
            assert torch.equal(value, old), key  # every shared convolution: bit for bit
    assert moved > 0
    assert [s["name"] for s in a.meta["styles"]] == ["wave", "udnie", "the_scream", "starry_night"]
    assert a.meta["arch"]["num_styles"] == 4 and a.meta["styles"][3]["adapted"]["steps"] == 3


def test_the_new_style_paints_otherwise_than_every_old_one(base):
    net, meta = base
    a = adapt_style(net, meta, STARRY, cache=False, **FAST)
    s = Stylizer(a.net, a.meta, device="cpu", backend="torch", style=a.style)
    x = torch.from_numpy(np.array(photo((40, 32)))).permute(2, 0, 1).float() / 255
    new = s(x)
    for name in ("wave", "udnie", "the_scream"):
        s.set_style(name)
        assert (s(x) - new).abs().max() > 1e-3, name


def test_the_same_seed_and_steps_give_the_same_row_another_seed_another(base):
    net, meta = base
    one, two = (adapt_style(net, meta, STARRY, cache=False, **FAST) for _ in range(2))
    other = adapt_style(net, meta, STARRY, cache=False, seed=1, **FAST)
    rows = [[v[3] for k, v in a.net.state_dict().items() if k.endswith(".scale")] for a in (one, two, other)]
    assert all(torch.equal(a, b) for a, b in zip(rows[0], rows[1]))
    assert not all(torch.equal(a, b) for a, b in zip(rows[0], rows[2]))


def test_the_start_is_the_mean_of_the_rows_or_auto_the_row_that_paints_closest(base):
    net, meta = base
    assert adapt_style(net, meta, STARRY, seconds=None, steps=1, cache=False).init == "mean"  # the default (measured)
    a = adapt_style(net, meta, STARRY, seconds=None, steps=1, cache=False, init="auto")
    assert a.init in ("mean", "wave", "udnie", "the_scream")
    b = adapt_style(net, meta, STARRY, seconds=None, steps=1, cache=False, init="auto", init_from=["udnie"])
    assert b.init in ("mean", "udnie")  # the mean of one row is that row


def test_the_second_call_reads_the_cache_and_trains_nothing(base, tmp_path, monkeypatch):
    net, meta = base
    first = adapt_style(net, meta, STARRY, cache_folder=tmp_path, **FAST)
    assert first.path is not None and first.path.parent == tmp_path and first.path.suffix == ".safetensors"

    def no_training(*args, **kwargs):
        raise AssertionError("the cached row was learned again")

    monkeypatch.setattr(adapt_module, "_train", no_training)
    steps = []
    again = adapt_style(net, meta, STARRY, cache_folder=tmp_path, progress=lambda *a: steps.append(a), **FAST)
    assert again.cached and again.steps == 0 and steps == [] and again.path == first.path
    assert all(torch.equal(v, again.net.state_dict()[k]) for k, v in first.net.state_dict().items())
    assert again.meta["styles"][-1]["adapted"]["steps"] == 2


def test_the_cache_is_keyed_by_the_paintings_bytes_not_its_name(base, tmp_path):
    net, meta = base
    cache = tmp_path / "cache"
    painting = tmp_path / "mine.jpg"
    shutil.copy(STARRY, painting)
    a = adapt_style(net, meta, painting, cache_folder=cache, **FAST)
    Image.open(ROOT / "assets" / "styles" / "wave.jpg").save(painting)  # same name, other bytes
    b = adapt_style(net, meta, painting, cache_folder=cache, **FAST)
    assert not b.cached and b.path != a.path
    renamed = tmp_path / "renamed.png"
    shutil.copy(STARRY, renamed)  # other name (and extension), the same bytes
    c = adapt_style(net, meta, renamed, cache_folder=cache, **FAST)
    assert c.cached and c.path == a.path and c.style == "renamed"
    assert len(list(cache.glob("*.safetensors"))) == 2


def test_the_key_holds_the_settings_and_the_network(base, tmp_path):
    net, meta = base
    a = adapt_style(net, meta, STARRY, cache_folder=tmp_path, **FAST)
    assert not adapt_style(net, meta, STARRY, cache_folder=tmp_path, seconds=None, steps=3, init="mean").cached
    assert not adapt_style(net, meta, STARRY, cache_folder=tmp_path, seed=5, **FAST).cached
    other, _ = load_network(make_multi_checkpoint(tmp_path / "other.ckpt", seed=1))
    assert not adapt_style(other, meta, STARRY, cache_folder=tmp_path, **FAST).cached
    assert adapt_style(net, meta, STARRY, cache_folder=tmp_path, **FAST).path == a.path


def _png_header_only(path, w, h):
    """A PNG that declares w×h pixels and holds no image data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("make,message", [
    (lambda p: _png_header_only(p / "huge.png", 20000, 20000), "pixel limit"),
    (lambda p: (p / "corrupt.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4) and p / "corrupt.jpg", "not a readable image"),
    (lambda p: (p / "empty.png").write_bytes(b"") or p / "empty.png", "not a readable image"),
    (lambda p: p, "a folder, not a file"),
    (lambda p: p / "absent.jpg", "no such file"),
])
def test_a_painting_that_cannot_be_used_is_one_line(base, tmp_path, make, message):
    net, meta = base
    with pytest.raises(StylenetError) as e:
        adapt_style(net, meta, make(tmp_path), cache_folder=tmp_path / "cache", **FAST)
    assert message in str(e.value) and len(str(e.value).splitlines()) == 1
    assert not (tmp_path / "cache").exists()


def test_a_painting_over_the_pixel_limit_is_refused_before_decoding(base, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(StylenetError, match="over the 100-pixel limit"):
        adapt_style(*base, STARRY, **FAST)


@pytest.mark.parametrize("mode,size", [("RGB", (1, 1)), ("L", (40, 30)), ("RGBA", (40, 30)), ("I;16", (30, 40)), ("RGB", (300, 2))])
def test_tiny_grey_alpha_16_bit_and_thin_paintings_work(base, tmp_path, mode, size):
    painting = tmp_path / "p.png"
    img = photo(size)
    (img.convert("I").point(lambda v: v * 256).convert("I;16") if mode == "I;16" else img.convert(mode)).save(painting)
    a = adapt_style(*base, painting, cache=False, seconds=None, steps=1, init="mean")
    assert a.steps == 1 and all(torch.isfinite(t).all() for t in a.net.state_dict().values())


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), 601, "abc", None])
def test_a_time_budget_out_of_bounds_is_one_line(value):
    with pytest.raises(AdaptError, match="above 0 and at most 600"):
        check_seconds(value)


def test_what_cannot_be_adapted_is_refused_before_any_work(base, tmp_path, setup, monkeypatch):
    net, meta = base
    one_net, one_meta = load_network(setup / "tiny.ckpt")
    with pytest.raises(AdaptError, match="needs a multi-style network"):
        adapt_style(one_net, one_meta, STARRY, **FAST)
    with pytest.raises(AdaptError, match="already holds a style called 'wave'"):
        adapt_style(net, meta, STARRY, name="wave", **FAST)
    with pytest.raises(AdaptError, match="init_from names styles"):
        adapt_style(net, meta, STARRY, init_from=["monet"], **FAST)
    with pytest.raises(AdaptError, match="give a time budget"):
        adapt_style(net, meta, STARRY, seconds=None)
    with pytest.raises(AdaptError, match="does not record the loss"):
        adapt_style(net, {**meta, "loss": {}}, STARRY, **FAST)
    monkeypatch.setattr(adapt_module, "PHOTOS", tmp_path / "not_installed")
    with pytest.raises(AdaptError, match="no photos to train on"):
        adapt_style(net, meta, STARRY, **FAST)
    assert adapt_style(net, meta, STARRY, photos=ROOT / "assets" / "sample" / "chelsea.jpg", cache=False, **FAST).steps == 2


def test_a_painting_named_as_an_old_style_gets_a_name_of_its_own(base, tmp_path):
    painting = tmp_path / "wave.jpg"
    shutil.copy(ROOT / "assets" / "styles" / "wave.jpg", painting)
    a = adapt_style(*base, painting, cache=False, **FAST)
    assert a.style == "wave-2" and [s["name"] for s in a.meta["styles"]][-2:] == ["the_scream", "wave-2"]


def test_a_time_budget_stops_the_steps(base, tmp_path):
    a = adapt_style(*base, STARRY, seconds=0.01, cache=False, init="mean")
    assert a.steps == 1  # at least one step; the budget is spent
