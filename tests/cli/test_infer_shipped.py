"""infer.py with no --ckpt (stylenet/cli/infer.py, stylenet.zoo): a shipped style by name runs the shipped network,
a painting file runs the shipped AdaIN decoder, --list-styles names them; a tmp zoo ($STYLENET_ZOO) of stand-ins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from helpers import make_zoo, photo
from PIL import Image

from stylenet import zoo
from stylenet.cli.infer import main

STARRY = ROOT / "assets" / "styles" / "starry_night.jpg"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    root = make_zoo(tmp_path_factory.mktemp("zoo"))
    photo((40, 30)).save(root / "a.jpg")
    return root


@pytest.fixture
def root(shipped, monkeypatch) -> Path:
    monkeypatch.setenv(zoo.ZOO_ENV, str(shipped))
    return shipped


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_shipped_style_by_name_needs_no_checkpoint(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", "starry_night", "-o", tmp_path / "out", "--backend", "torch", "-q")
    assert code == 0, err
    (out,) = (tmp_path / "out").iterdir()
    assert out.name == "a_starry_night.jpg" and Image.open(out).size == (40, 30)
    code, _, err = run(capsys, root / "a.jpg", "--mix", "wave:0.5,udnie:0.5", "-o", tmp_path / "mix", "-q")
    assert code == 0, err


def test_a_painting_file_runs_the_shipped_adain_decoder(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "-o", tmp_path / "out", "-q")
    assert code == 0, err
    (out,) = (tmp_path / "out").iterdir()
    assert Image.open(out).size == (40, 30)


def test_list_styles_names_the_shipped_styles_and_a_checkpoints_own(root, capsys):
    code, out, _ = run(capsys, "--list-styles")
    assert code == 0 and out.split("\n")[:5] == list(zoo.MODELS["five-paintings"].styles)
    assert "any painting: --style path/to/painting.jpg (the shipped adain decoder)" in out and "not installed" not in out
    code, out, _ = run(capsys, "--list-styles", "--ckpt", ROOT / "tests" / "fixtures" / "multi_tiny_2026-12-05.ckpt")
    assert code == 0 and out.split() == ["wave", "udnie"]


def test_ckpt_still_picks_the_users_own_file_or_folder(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--ckpt", root / "five-paintings", "--style", "udnie", "-o", tmp_path / "o", "-q")
    assert code == 0, err
    code, _, err = run(capsys, root / "a.jpg", "--ckpt", ROOT / "tests" / "fixtures" / "multi_tiny_2026-12-05.ckpt", "--style",
                       "starry_night", "-o", tmp_path / "o2")
    assert code == 2 and "starry_night" in err  # the user's network has no such style: the shipped one is not used instead


@pytest.mark.parametrize("argv,message", [
    (["--style", "vangogh"], "--style vangogh is neither a shipped style .* nor a painting file"),
    ([], "give --ckpt CHECKPOINT, or --style with a shipped style"),
])
def test_without_a_checkpoint_what_cannot_be_shipped_is_one_line(root, capsys, argv, message):
    code, _, err = run(capsys, root / "a.jpg", *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(message, err)


def test_a_zoo_model_not_installed_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path))
    photo((20, 20)).save(tmp_path / "a.jpg")
    code, _, err = run(capsys, tmp_path / "a.jpg", "--style", "wave")
    assert code == 2 and "the shipped model five-paintings is not in this installation" in err
    code, out, _ = run(capsys, "--list-styles")
    assert code == 0 and "(adain is not installed: python -m stylenet zoo build adain)" in out


def test_the_int8_backend_from_the_command_line_for_a_network_and_for_a_painting(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", "starry_night", "-o", tmp_path / "out", "--backend", "onnxruntime-int8", "-q")
    assert code == 0, err
    assert Image.open(tmp_path / "out" / "a_starry_night.jpg").size == (40, 30)
    # a painting file: the AdaIN decoder's encoder and decoder in int8, calibrated on this painting
    code, out, err = run(capsys, root / "a.jpg", "--style", STARRY, "-o", tmp_path / "out2", "--backend", "onnxruntime-int8")
    assert code == 0, err
    assert Image.open(tmp_path / "out2" / "a_starry_night.jpg").size == (40, 30) and "onnxruntime-int8]" in out
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "-o", tmp_path / "out3", "--half", "-q")
    assert code != 0 and err.strip().splitlines()[-1].endswith(
        "a universal checkpoint runs in float32 (int8 on a CPU: --backend onnxruntime-int8): drop --half")
    assert not (tmp_path / "out3").exists() or not any((tmp_path / "out3").iterdir())
