"""infer.py with a universal checkpoint (stylenet/cli/infer_universal.py, stylenet/universal/paintings.py): --style, --alpha, --transform."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tiny_meta
from helpers import photo, tiny_net, write_universal
from PIL import Image

from stylenet.cli.entry import UsageError
from stylenet.cli.infer import main
from stylenet.cli.infer_universal import parse_style
from stylenet.networks.checkpoint import atomic_save


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uinfer")
    write_universal(root / "u.ckpt")
    (root / "photos").mkdir()
    photo((40, 30)).save(root / "photos" / "a.jpg")
    photo((33, 47)).rotate(90).save(root / "photos" / "b.png")
    (root / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    photo((36, 36)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "wave.png")
    photo((20, 24)).convert("L").save(root / "grey.png")
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_stylises_a_folder_with_two_blended_paintings_and_reports_the_bad_photo(files, tmp_path, capsys):
    code, out, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", f"{files / 'wave.png'}:0.7", "--style",
                         f"{files / 'grey.png'}:0.3", "--alpha", "0.8", "--preserve-color", files / "photos", "-o", tmp_path / "out")
    assert code == 1  # the broken photo failed alone
    assert "broken.jpg" in err and "1 failed" in err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["a_wave+grey.jpg", "b_wave+grey.png"]
    with Image.open(tmp_path / "out" / "a_wave+grey.jpg") as im:
        assert im.size == (40, 30)
    assert not list((tmp_path / "out").glob(".*"))  # atomic writes leave no temporaries


def test_adain_size_and_strength(files, tmp_path, capsys):
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", "--transform", "adain", "--size", "64",
                       "--strength", "0.5", files / "photos" / "a.jpg", "-o", tmp_path / "x.png")
    assert code == 0, err
    with Image.open(tmp_path / "x.png") as im:
        assert im.size == (64, 48)


def test_a_photo_too_small_for_adain_fails_alone_and_the_others_are_written(files, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    photo((40, 30)).save(src / "big.jpg")
    photo((12, 9)).save(src / "tiny.png")  # under relu4_1's 16 px
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", "--transform", "adain", src,
                       "-o", tmp_path / "out")
    assert code == 1
    assert "tiny.png" in err and "too small for AdaIN" in err and "1 failed" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["big_wave.jpg"]


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "give the painting with --style"),
        (["--style", "{root}/missing.jpg"], "missing.jpg"),
        (["--style", "{root}/wave.png", "--alpha", "2"], "--alpha must be between 0 and 1"),
        (["--style", "{root}/wave.png:0"], "weights are all 0"),
        (["--style", "{root}/wave.png", "--export", "onnx"], "no single network to export"),
        (["--style", "{root}/wave.png", "--tile", "256"], "--tile does not apply"),
        (["--style", "{root}/wave.png", "--stroke-scale", "2"], "--stroke-scale applies to trained networks"),
        (["--style", "{root}/wave.png", "--palette", "both", "--preserve-color"], "exclude each other"),
    ],
)
def test_setup_problems_are_one_line_before_any_work(files, tmp_path, capsys, extra, message):
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", *[e.format(root=files) for e in extra], files / "photos" / "a.jpg",
                       "-o", tmp_path / "o")
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "o").exists()


def test_style_options_on_a_trained_network_are_refused(tmp_path, capsys):
    atomic_save({"stylenet": tiny_meta(), "state_dict": tiny_net().state_dict()}, tmp_path / "wave.pt")
    photo((20, 20)).save(tmp_path / "p.jpg")
    code, _, err = run(capsys, "--ckpt", tmp_path / "wave.pt", "--style", "x.jpg", tmp_path / "p.jpg")
    assert code == 2 and "universal checkpoint" in err and "Traceback" not in err
    code, _, err = run(capsys, "--ckpt", tmp_path / "wave.pt", "--palette", "both", tmp_path / "p.jpg")
    assert code == 2 and "--palette need a universal checkpoint" in err and "Traceback" not in err


def test_palette_is_after_by_default_none_on_request_and_gives_way_to_preserve_color(files, tmp_path, capsys):
    outs = {}
    for name, extra in (("default", []), ("none", ["--palette", "none"]), ("after", ["--palette", "after"]),
                        ("keep", ["--preserve-color"]), ("keep_none", ["--preserve-color", "--palette", "none"])):
        code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", "--transform", "adain", *extra,
                           files / "photos" / "a.jpg", "-o", tmp_path / f"{name}.png")
        assert code == 0, err
        with Image.open(tmp_path / f"{name}.png") as im:
            outs[name] = im.tobytes()
    assert outs["default"] == outs["after"] != outs["none"] and outs["keep"] == outs["keep_none"]
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", "--transform", "efdm", "--palette", "before",
                       files / "photos" / "a.jpg", "-o", tmp_path / "efdm.png")
    assert code == 0, err
    with Image.open(tmp_path / "efdm.png") as im:
        assert im.size == (40, 30)
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", "--palette", "always",
                       files / "photos" / "a.jpg", "-o", tmp_path / "x.png")
    assert code == 2 and "invalid choice" in err and not (tmp_path / "x.png").exists()


def test_style_weights_parse_and_paths_with_colons_survive(tmp_path):
    assert parse_style("a.jpg:0.7") == ("a.jpg", 0.7) and parse_style("a.jpg") == ("a.jpg", 1.0)
    odd = tmp_path / "b:2"
    odd.write_bytes(b"")
    assert parse_style(str(odd)) == (str(odd), 1.0)  # an existing file named like PATH:WEIGHT is a file
    assert parse_style("C:/art/a.jpg") == ("C:/art/a.jpg", 1.0)
    for bad in ("a.jpg:inf", "a.jpg:1e309", "a.jpg:-1", "a.jpg:nan", "a.jpg:2e6"):  # one line, never a traceback
        with pytest.raises(UsageError, match=r"--style a.jpg:.*weights are numbers from 0 to 1e\+06"):
            parse_style(bad)


def test_the_default_transform_is_adain_where_the_file_has_relu4_1_and_wct_where_it_does_not(files, tmp_path, capsys):
    from stylenet.universal.paintings import PaintingStylizer

    with_4 = PaintingStylizer.from_checkpoint(files / "u.ckpt", files / "wave.png")
    without_4 = PaintingStylizer.from_checkpoint(write_universal(tmp_path / "u123.ckpt", levels=(1, 2, 3)), files / "wave.png")
    assert (with_4.transform, without_4.transform) == ("adain", "wct")
    # infer.py with no --transform writes what --transform adain writes
    for name, extra in (("default", []), ("adain", ["--transform", "adain"]), ("wct", ["--transform", "wct"])):
        code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", *extra, files / "photos" / "a.jpg",
                           "-o", tmp_path / f"{name}.png")
        assert code == 0, err
    pixels = {n: Image.open(tmp_path / f"{n}.png").tobytes() for n in ("default", "adain", "wct")}
    assert pixels["default"] == pixels["adain"] != pixels["wct"]


def test_decoders_of_a_random_vgg_are_said_to_be_so(files, tmp_path, capsys, caplog):
    """A file whose encoder is random (tests' files, or a crafted one) paints noise: one warning says so."""
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", files / "photos" / "a.jpg",
                       "-o", tmp_path / "x.png")
    said = err + caplog.text
    assert code == 0 and said.count("the VGG encoder has random weights (encoder.weights=random, meant for tests)") == 1
    assert "u.ckpt" in said


def test_out_of_memory_with_decoders_never_suggests_tiles(files, tmp_path, capsys, monkeypatch):
    """Universal decoders refuse --tile (WCT and AdaIN need the whole image), so the advice is a smaller --size."""
    from stylenet.universal.paintings import PaintingStylizer

    def out_of_memory(self, *a, **kw):
        raise RuntimeError("CUDA out of memory. Tried to allocate 9.00 GiB")

    monkeypatch.setattr(PaintingStylizer, "stylize_many", out_of_memory)
    code, _, err = run(capsys, "--ckpt", files / "u.ckpt", "--style", files / "wave.png", files / "photos" / "a.jpg",
                       "-o", tmp_path / "out")
    assert code == 1 and "give a smaller --size" in err and "--tile" not in err
