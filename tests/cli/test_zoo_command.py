"""python -m stylenet zoo (stylenet/cli/zoo.py): list, and build --from-ckpt into the zoo root (the recipes
themselves train for minutes: not run here)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT
from helpers import make_multi_checkpoint, write_universal

from stylenet import zoo
from stylenet.cli.zoo import main
from stylenet.networks.checkpoint import load_file

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path / "zoo"))
    return tmp_path / "zoo"


def test_list_names_kinds_styles_and_what_is_installed(root, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "five-paintings  network   wave, starry_night, the_scream, shipwreck, udnie" in out
    assert "adain           decoders  any painting" in out and "not installed: python -m stylenet zoo build adain" in out


def test_build_from_a_checkpoint_writes_the_folder_with_its_card(root, tmp_path, capsys, monkeypatch):
    import functools

    from stylenet.teacher import strokes

    # The build measures each style's stroke side on the shipped photos; here on one of them, at 64 px, one side.
    monkeypatch.setattr(strokes, "calibrate", functools.partial(strokes.calibrate, size=64, sides=(64,), limit=1, device="cpu"))
    net = make_multi_checkpoint(tmp_path / "five.ckpt", styles=zoo.MODELS["five-paintings"].styles)
    (tmp_path / "q.md").write_text("| painting | iters |\n|---|---|\n| wave | 31 |\n")
    assert main(["build", "five-paintings", "--from-ckpt", str(net), "--half", "--card", "time=31 min",
                 "--card", f"quality=@{tmp_path / 'q.md'}"]) == 0
    folder = root / "five-paintings"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float16"
    card = (folder / "README.md").read_text()
    assert zoo.MODELS["five-paintings"].command_line in card and "public domain and CC0" in card
    assert "31 min" in card and "## Quality\n\n| painting | iters |\n|---|---|\n| wave | 31 |" in card
    assert "## Stroke sides" in card and "- udnie: 64 px" in card
    assert [s["stroke_side"] for s in json.loads((folder / "config.json").read_text())["styles"]] == [64] * 5
    assert "five-paintings: " in capsys.readouterr().out and zoo.is_installed("five-paintings")
    assert main(["build", "adain", "--from-ckpt", str(write_universal(tmp_path / "u.ckpt", levels=(4,)))]) == 0
    assert load_file(root / "adain")["stylenet"]["levels"] == [4]
    adain_card = (root / "adain" / "README.md").read_text()  # learned from BSDS500: its terms, said where users look
    assert "license: other" in adain_card and "non-commercial research and education only" in adain_card
    capsys.readouterr()
    assert main(["list"]) == 0 and capsys.readouterr().out.count("installed (") == 2


@pytest.mark.parametrize("name,src,message", [
    ("five-paintings", FIXTURES / "multi_tiny_2026-12-05.ckpt", "holds the styles \\['wave', 'udnie'\\]"),
    ("five-paintings", FIXTURES / "universal_tiny_2026-12-05.ckpt", "holds universal decoders"),
    ("adain", FIXTURES / "universal_tiny_2026-12-05.ckpt", "no relu4_1 decoder"),
    ("adain", FIXTURES / "multi_tiny_2026-12-05.ckpt", "holds a trained network"),
])
def test_a_checkpoint_that_is_not_what_the_name_promises_is_refused(root, capsys, name, src, message):
    assert main(["build", name, "--from-ckpt", str(src)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err) and not (root / name).exists()


@pytest.mark.parametrize("card,message", [("speed=fast", "KEY one of"), ("time", "KEY=VALUE"), ("quality=@/nonexistent.md", "cannot read")])
def test_a_bad_card_field_is_refused_before_any_work(root, capsys, card, message):
    assert main(["build", "adain", "--from-ckpt", str(FIXTURES / "universal_tiny_2026-12-05.ckpt"), "--card", card]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and not (root / "adain").exists()


def test_recipe_overrides_are_refused_with_a_conversion(root, capsys):
    assert main(["build", "adain", "--from-ckpt", str(FIXTURES / "universal_tiny_2026-12-05.ckpt"), "data.path=/photos"]) == 2
    assert "--from-ckpt converts a trained checkpoint" in capsys.readouterr().err and not (root / "adain").exists()
