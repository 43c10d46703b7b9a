"""The web page's work without the web (stylenet/demo/jobs.py, catalogue.py): styles found, photos in the
photo's format and size, every bound refused in one line before any work, contact sheets, clips with sound."""

from __future__ import annotations

import av
import pytest
from helpers import ROOT, bomb_png, make_clip, make_multi_checkpoint, make_zoo, photo
from PIL import Image

from stylenet.data.images import ImageError
from stylenet.demo import jobs
from stylenet.demo.catalogue import Catalogue, DemoError, find_checkpoints
from stylenet.inference.save_pretrained import save_pretrained
from stylenet.inference.video import VideoError

PAINTING = ROOT / "assets" / "styles" / "wave.jpg"


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory):
    return make_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture
def catalogue(zoo_root, monkeypatch):
    monkeypatch.setenv("STYLENET_ZOO", str(zoo_root))
    return Catalogue(["five-paintings", "adain"], device="cpu")


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def test_the_catalogue_lists_every_style_then_the_painting_choice(catalogue):
    assert catalogue.labels == ["wave (five-paintings)", "starry_night (five-paintings)", "the_scream (five-paintings)",
                                "shipwreck (five-paintings)", "udnie (five-paintings)", "your painting (adain)"]
    assert catalogue.choice("udnie (five-paintings)").style == "udnie"
    with pytest.raises(DemoError, match="unknown style 'monet'"):
        catalogue.choice("monet")


def test_runs_under_checkpoints_are_found_and_a_broken_one_is_skipped_in_one_line(tmp_path):
    make_multi_checkpoint(tmp_path / "checkpoints" / "three" / "last.ckpt")
    save_pretrained(tmp_path / "checkpoints" / "three" / "last.ckpt", tmp_path / "checkpoints" / "three" / "pretrained")
    (tmp_path / "checkpoints" / "broken").mkdir()
    (tmp_path / "checkpoints" / "broken" / "last.ckpt").write_bytes(b"not a checkpoint")
    (tmp_path / "checkpoints" / "three" / "step=10.ckpt").write_bytes(b"older: not listed")
    found = find_checkpoints(tmp_path / "checkpoints")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "checkpoints/broken/last.ckpt", "checkpoints/three/last.ckpt", "checkpoints/three/pretrained"]
    assert find_checkpoints(tmp_path / "nowhere") == []
    cat = Catalogue(found, device="cpu")
    assert len(cat.choices) == 6 and all(c.kind == "network" for c in cat.choices.values())
    assert len(cat.skipped) == 1 and "broken/last.ckpt" in cat.skipped[0] and "\n" not in cat.skipped[0]


def test_a_photo_comes_back_in_its_format_and_size_and_differs(catalogue, tmp_path):
    src = _save(photo((150, 100)), tmp_path / "street.jpg", quality=95)
    r = jobs.stylise_photo(catalogue, src, "udnie (five-paintings)")
    assert r.path.suffix == ".jpg" and r.path.name == "street-udnie.jpg"
    with Image.open(r.path) as out:
        assert out.format == "JPEG" and out.size == (150, 100) == r.size
    assert r.before.size == r.after.size == (150, 100) and r.before.tobytes() != r.after.tobytes() and r.seconds > 0


def test_png_keeps_its_alpha_and_the_output_size_is_the_long_side(catalogue, tmp_path):
    rgba = photo((120, 80)).convert("RGBA")
    rgba.putalpha(128)
    src = _save(rgba, tmp_path / "logo.png")
    r = jobs.stylise_photo(catalogue, src, "wave (five-paintings)", size="512", stroke_scale=2)
    with Image.open(r.path) as out:
        assert out.format == "PNG" and out.mode == "RGBA" and out.size == (512, 341)
        assert out.getchannel("A").getextrema() == (128, 128)


def test_the_stroke_scale_is_auto_first_and_a_bad_one_is_one_line(catalogue, tmp_path):
    assert jobs.STROKE_SCALES[0] == "auto"
    src = _save(photo((120, 80)), tmp_path / "p.png")
    for bad in ("0", "big", float("nan")):
        with pytest.raises(DemoError, match="stroke scale must be auto or a number|stroke scale takes a number") as e:
            jobs.stylise_photo(catalogue, src, "wave (five-paintings)", stroke_scale=bad)
        assert "\n" not in str(e.value)
    assert jobs.stylise_photo(catalogue, src, "wave (five-paintings)", stroke_scale="1.5").size == (120, 80)


def test_your_painting_needs_a_painting_and_paints_with_it(catalogue, tmp_path):
    src = _save(photo((96, 80)), tmp_path / "p.webp")
    with pytest.raises(DemoError, match="no painting: drop or upload one first"):
        jobs.stylise_photo(catalogue, src, "your painting (adain)")
    with pytest.raises(DemoError, match="stroke scale is for trained networks"):
        jobs.stylise_photo(catalogue, src, "your painting (adain)", PAINTING, stroke_scale=2)
    r = jobs.stylise_photo(catalogue, src, "your painting (adain)", PAINTING, strength=0.5)
    assert r.path.suffix == ".webp" and r.size == (96, 80)


@pytest.mark.parametrize("make, message", [
    (lambda p: (p.write_text("hello"), p)[1], "not a readable image"),
    (lambda p: (p.write_bytes((ROOT / "assets" / "sample" / "rocket.jpg").read_bytes()[:3000]), p)[1], "truncated"),
    (lambda p: _save(Image.new("L", (8000, 6000)), p), "48 megapixels, over this page's 40; downscale it first"),
    (bomb_png, "decompression-bomb guard"),
    (lambda p: None, "no photo: drop or upload one first"),
])
def test_bad_photos_are_one_line_naming_the_file(catalogue, tmp_path, make, message):
    path = make(tmp_path / "upload.png")
    with pytest.raises((DemoError, ImageError), match=message) as e:
        jobs.stylise_photo(catalogue, path, "wave (five-paintings)")
    assert "\n" not in str(e.value) and (path is None or "upload.png" in str(e.value))


def test_a_painting_that_cannot_be_read_is_one_line_naming_it(catalogue, tmp_path):
    src = _save(photo((96, 80)), tmp_path / "p.jpg")
    bad = tmp_path / "my_painting.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises((DemoError, ImageError), match="my_painting.png: not a readable image") as e:
        jobs.stylise_photo(catalogue, src, "your painting (adain)", bad)
    assert "\n" not in str(e.value) and "upload a photo" in str(e.value)


def test_every_output_size_has_a_bound(catalogue, tmp_path):
    src = _save(photo((90, 60)), tmp_path / "a.jpg")
    with pytest.raises(DemoError, match="outside 64..4096"):
        jobs.stylise_photo(catalogue, src, "wave (five-paintings)", size="8192")
    with pytest.raises(DemoError, match="outside 64..2048"):
        jobs.stylise_photo(catalogue, src, "your painting (adain)", PAINTING, size="4096")
    with pytest.raises(DemoError, match="not a number of pixels"):
        jobs.stylise_photo(catalogue, src, "wave (five-paintings)", size="big")
    with pytest.raises(DemoError, match="5000 px on its long side, over this page's 4096; pick a smaller output size"):
        jobs.output_side(None, Image.new("RGB", (5000, 10)), 4096)
    assert jobs.output_side(None, Image.new("RGB", (4096, 10)), 4096) is None


def test_a_contact_sheet_shows_every_style_of_the_network(catalogue, tmp_path):
    src = _save(photo((120, 90)), tmp_path / "cat.jpg")
    image, path = jobs.sheet(catalogue, src, "shipwreck (five-paintings)")
    assert path.name == "cat-contact-sheet.jpg" and image.width > 6 * 256 and image.height > 2 * 256
    assert catalogue.network(catalogue.choice("udnie (five-paintings)")).style == "udnie"  # the choice is restored
    with pytest.raises(DemoError, match="every style of a multi-style network"):
        jobs.sheet(catalogue, src, "your painting (adain)")


def test_a_clip_is_stylised_with_its_sound(catalogue, tmp_path):
    clip = make_clip(tmp_path / "pan.mp4", frames=8)
    path, took = jobs.stylise_clip(catalogue, clip, "wave (five-paintings)", strength=0.8)
    assert path.suffix == ".mp4" and took.startswith("8 frames at 64x48")
    with av.open(str(path)) as out:
        assert out.streams.video[0].codec_context.name == "h264" and len(out.streams.audio) == 1
    path, _ = jobs.stylise_clip(catalogue, clip, "your painting (adain)", PAINTING)
    assert path.is_file()


def test_bad_clips_are_one_line(catalogue, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(VideoError, match="corrupt.mp4: not a readable video") as e:
        jobs.stylise_clip(catalogue, corrupt, "wave (five-paintings)")
    assert "\n" not in str(e.value)
    with pytest.raises(DemoError, match="notes.txt: not a video file name"):
        jobs.stylise_clip(catalogue, tmp_path / "notes.txt", "wave (five-paintings)")
    wide = make_clip(tmp_path / "wide.mp4", frames=2, size=(1296, 64), audio=False)
    with pytest.raises(DemoError, match="1296x64 is over this page's 1280 px for videos; resize it first"):
        jobs.stylise_clip(catalogue, wide, "wave (five-paintings)")
    with pytest.raises(DemoError, match="no video"):
        jobs.stylise_clip(catalogue, None, "wave (five-paintings)")


def test_a_clip_stops_at_the_frame_bound_as_well_as_the_seconds(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "MAX_VIDEO_FRAMES", 5)  # a 1000 fps clip holds 10,000 frames in 10 s
    clip = make_clip(tmp_path / "fast.mp4", frames=12, audio=False)
    _, took = jobs.stylise_clip(catalogue, clip, "wave (five-paintings)")
    assert took.startswith("5 frames at 64x48")
    with pytest.raises(DemoError, match="outside 64..4096 for this style; pick one in that range"):
        jobs.output_side("-5", Image.new("RGB", (90, 60)), 4096)
