"""infer.py --style painting.jpg --adapt SECONDS (stylenet/cli/infer_adapt.py): the shipped network (a tiny
stand-in, $STYLENET_ZOO) learns the painting, the second photo reads the row from the cache, and every bad
value or combination is one line and exit 2 before any work."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from helpers import make_zoo, photo
from PIL import Image

from stylenet import zoo
from stylenet.cli.infer import main

STARRY = ROOT / "assets" / "styles" / "starry_night.jpg"  # named as a shipped style: learned as starry_night-2


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny networks: faster than two threads (tests/inference/test_adapt.py)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    root = make_zoo(tmp_path_factory.mktemp("zoo"))
    photo((40, 30)).save(root / "a.jpg")
    photo((36, 28)).save(root / "b.jpg")
    shutil.copy(STARRY, root / "mine.jpg")
    return root


@pytest.fixture
def root(shipped, monkeypatch) -> Path:
    monkeypatch.setenv(zoo.ZOO_ENV, str(shipped))
    return shipped


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_shipped_network_learns_the_painting_and_the_next_photo_reads_the_cache(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", root / "mine.jpg", "--adapt", "2", "-o", tmp_path / "out", "--backend", "torch")
    assert code == 0, err
    assert "a new style of five-paintings (5 styles)" in err and re.search(r"mine: learned in \d+ steps", err)
    assert Image.open(tmp_path / "out" / "a_mine.jpg").size == (40, 30)
    (entry,) = (tmp_path / "stylenet_cache" / "adapt").glob("*.safetensors")  # conftest: this test's own cache
    code, _, err = run(capsys, root / "b.jpg", "--style", root / "mine.jpg", "--adapt", "2", "-o", tmp_path / "out", "--backend", "torch")
    assert code == 0, err
    assert f"mine: read from the cache {entry}" in err and not re.search(r"learned in \d+ steps", err)
    assert Image.open(tmp_path / "out" / "b_mine.jpg").size == (36, 28)


def test_with_ckpt_the_users_multi_style_network_learns_it(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "--adapt", "1", "--ckpt", root / "five.ckpt",
                       "-o", tmp_path / "o", "--backend", "torch", "-q")
    assert code == 0, err
    assert (tmp_path / "o" / "a_starry_night-2.jpg").is_file() and err == ""  # the network holds a starry_night


def test_without_adapt_a_painting_still_goes_to_the_adain_decoder(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "-o", tmp_path / "out", "-q")
    assert code == 0, err
    assert not (tmp_path / "stylenet_cache").exists()


@pytest.mark.parametrize("value,message", [
    ("0", "--adapt must be a number of seconds above 0 and at most 600, got 0.0"),
    ("-5", "above 0 and at most 600"),
    ("nan", "above 0 and at most 600"),
    ("inf", "above 0 and at most 600"),
    ("601", "above 0 and at most 600"),
    ("abc", "argument --adapt: invalid float value: 'abc'"),
])
def test_a_bad_adapt_value_is_one_line_and_exit_2(root, tmp_path, capsys, value, message):
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "--adapt", value, "-o", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "stylenet_cache").exists()


@pytest.mark.parametrize("extra,message", [
    (["--style", STARRY], "--adapt learns one painting"),
    (["--mix", "wave:0.5,udnie:0.5"], "--adapt learns one painting"),
    (["--export", "onnx"], "does not go with --export"),
    (["--contact-sheet"], "does not go with --export, --contact-sheet"),
    (["--alpha", "0.5"], "are the AdaIN decoder's"),
    (["--palette", "after"], "are the AdaIN decoder's"),
])
def test_what_does_not_go_with_adapt_is_one_line(root, tmp_path, capsys, extra, message):
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "--adapt", "5", *extra, "-o", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err


def test_a_shipped_style_name_or_a_missing_file_is_not_a_painting_to_learn(root, tmp_path, capsys):
    code, _, err = run(capsys, root / "a.jpg", "--style", "wave", "--adapt", "5")
    assert code == 2 and "wave is already a style of the shipped network: drop --adapt" in err
    code, _, err = run(capsys, root / "a.jpg", "--style", tmp_path / "nothing.jpg", "--adapt", "5")
    assert code == 2 and "is not a file" in err and len(err.strip().splitlines()) == 1


def test_a_one_style_network_or_universal_decoders_are_refused(root, tmp_path, capsys, setup):
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "--adapt", "5", "--ckpt", setup / "tiny.ckpt")
    assert code == 2 and "holds one style" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, root / "a.jpg", "--style", STARRY, "--adapt", "5", "--ckpt", root / "adain")
    assert code == 2 and "universal decoders" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content,message", [
    (b"", "not a readable image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not a readable image"),
])
def test_a_hostile_painting_is_one_line_before_any_work(root, tmp_path, capsys, content, message):
    painting = tmp_path / "bad.png"
    painting.write_bytes(content)
    code, _, err = run(capsys, root / "a.jpg", "--style", painting, "--adapt", "5", "-o", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "stylenet_cache").exists()


def test_a_grey_painting_with_alpha_works(root, tmp_path, capsys):
    painting = tmp_path / "grey.png"
    photo((50, 40)).convert("LA").save(painting)
    code, _, err = run(capsys, root / "a.jpg", "--style", painting, "--adapt", "1", "-o", tmp_path / "out", "--backend", "torch", "-q")
    assert code == 0, err
    assert (tmp_path / "out" / "a_grey.jpg").is_file()


def test_without_assets_sample_the_input_photos_train_the_row(root, tmp_path, capsys, monkeypatch):
    from stylenet.inference import adapt

    monkeypatch.setattr(adapt, "PHOTOS", tmp_path / "not_installed")  # as in a wheel: no assets/
    code, _, err = run(capsys, root / "a.jpg", "--style", root / "mine.jpg", "--adapt", "1", "-o", tmp_path / "out", "--backend", "torch")
    assert code == 0, err
    assert "training on 1 of the input photos" in err and (tmp_path / "out" / "a_mine.jpg").is_file()
