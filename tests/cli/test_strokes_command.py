"""python -m stylenet strokes (stylenet/cli/strokes.py): the table, a pretrained folder that records each style's
stroke side, and one line for what cannot be measured. Tiny networks, random VGG weights, small photos."""

from __future__ import annotations

import json

import pytest
from helpers import make_multi_checkpoint, photo_folder, write_universal

from stylenet.cli.strokes import main
from stylenet.inference.stylizer import Stylizer


@pytest.fixture
def photos(tmp_path):
    return photo_folder(tmp_path / "photos")


def test_the_table_and_a_folder_whose_styles_paint_at_their_sides(tmp_path, photos, capsys):
    ckpt = make_multi_checkpoint(tmp_path / "multi.ckpt")
    out = tmp_path / "pretrained"
    assert main([str(ckpt), "--photos", str(photos), "--size", "80", "--sides", "64", "80", "--out", str(out), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "| style | working side | training loss | style vs photo | content |" in text and f"wrote {out}" in text
    styles = json.loads((out / "config.json").read_text())["styles"]
    sides = {s["name"]: s["stroke_side"] for s in styles}
    assert set(sides.values()) <= {64, 80} and list(sides) == ["wave", "udnie", "the_scream"]
    assert f"stroke sides: wave {sides['wave']} px" in text
    assert "## Stroke sides" in (out / "README.md").read_text()
    stylizer = Stylizer.from_checkpoint(out, device="cpu", backend="torch", style="udnie")
    assert stylizer.working_size((400, 300)) == ((sides["udnie"], round(300 * sides["udnie"] / 400)))


@pytest.mark.parametrize("args,message", [
    (["--size", "10"], "--size 10: give a long side from 64"),
    (["--size", "80", "--sides", "32"], "--sides 32: each from 64 px up to --size (80)"),
    (["--size", "80", "--sides", "128"], "--sides 128: each from 64 px up to --size (80)"),
    (["--limit", "0"], "--limit 0: give at least 1"),
    (["--photos", "nowhere"], "nowhere is not a folder; give --photos FOLDER"),
    (["--size", "abc"], "invalid int value: 'abc'"),
])
def test_bad_options_are_one_line_and_exit_2(tmp_path, photos, capsys, args, message):
    ckpt = make_multi_checkpoint(tmp_path / "multi.ckpt")
    args = args if "--photos" in args else [*args, "--photos", str(photos)]
    assert main([str(ckpt), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_universal_decoders_and_a_folder_that_is_not_a_model_are_refused(tmp_path, photos, capsys):
    assert main([str(write_universal(tmp_path / "u.ckpt", levels=(4,))), "--photos", str(photos)]) == 2
    assert "paint at the photo's size" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert main([str(make_multi_checkpoint(tmp_path / "m.ckpt")), "--photos", str(photos), "--out", str(tmp_path / "taken")]) == 2
    assert "exists and is not a pretrained folder" in capsys.readouterr().err
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
