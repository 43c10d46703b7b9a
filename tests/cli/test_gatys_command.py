"""The Gatys teacher (stylenet/teacher/gatys.py) and the colour helpers it shares with inference (stylenet/perceptual/color.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from helpers import images

from stylenet.data.images import load_image, save_image


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "stylenet", "gatys", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_command_writes_the_image_and_intermediates(tmp_path):
    photo = tmp_path / "photo.png"
    save_image(images(hw=(40, 48))[0], photo)
    r = _cli("style=wave", "content=photo.png", "out=res/out.png", "size=48", "iterations=4", "save_every=2",
             "loss.weights=random", "progress=false", "style.size=64", "tensorboard=tb", cwd=tmp_path)  # relative to the user's cwd
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "res" / "out.png").is_file()
    assert (tmp_path / "res" / "out_iter00002.png").is_file() and (tmp_path / "res" / "out_iter00004.png").is_file()
    assert load_image(tmp_path / "res" / "out.png").shape[-2:] == (40, 48)
    assert "total loss" in r.stdout
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_command_stops_with_one_line_for_missing_style_or_photo(tmp_path, monkeypatch):
    from stylenet.cli.gatys import run
    from stylenet.config import compose
    from stylenet.errors import StylenetError

    monkeypatch.chdir(tmp_path)
    save_image(images()[0], tmp_path / "photo.png")
    base = ["loss.weights=random", "iterations=1"]
    with pytest.raises(StylenetError, match="style image not found: nowhere.jpg"):
        run(compose("gatys", ["style.image=nowhere.jpg", "content=photo.png", *base]))
    with pytest.raises(StylenetError, match="missing.jpg: no such file"):
        run(compose("gatys", ["content=missing.jpg", *base]))
    with pytest.raises(StylenetError, match="neither an image file nor a style name"):
        run(compose("gatys", ["content=photo.png", "styles=[wave,nonsense]", *base]))
    with pytest.raises(StylenetError, match="give the photo"):
        run(compose("gatys", base))
    assert not list(tmp_path.glob("*_gatys.png"))


def test_command_exits_non_zero_without_saving_when_the_teacher_diverges(tmp_path):
    save_image(images()[0], tmp_path / "photo.png")
    r = _cli("content=photo.png", "out=o.png", "optimizer=adam", "lr=inf", "iterations=3", "size=40",
             "style.size=48", "loss.weights=random", "progress=false", cwd=tmp_path)
    assert r.returncode == 1 and "diverged" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.png").exists()


def test_an_unwritable_out_or_a_thin_photo_stops_before_optimising(tmp_path, monkeypatch):
    from stylenet.cli import gatys
    from stylenet.config import compose
    from stylenet.errors import StylenetError

    monkeypatch.chdir(tmp_path)
    save_image(images()[0], tmp_path / "photo.png")
    (tmp_path / "a_file").write_text("x")
    base = ["loss.weights=random", "iterations=1", "style.size=64", "progress=false"]
    monkeypatch.setattr(gatys, "stylize", lambda *a, **k: pytest.fail("optimised before out was checked"))
    with pytest.raises(StylenetError, match="cannot write to the folder of out= a_file"):
        gatys.run(compose("gatys", ["content=photo.png", "out=a_file/x.png", *base]))
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    save_image(torch.rand(1, 3, 1, 300), tmp_path / "thin.png")  # crashed inside VGG's pooling before
    with pytest.raises(StylenetError, match="a 64x1 image is too small for the VGG layer"):
        gatys.run(compose("gatys", ["content=thin.png", "size=64", *base]))


def test_the_teacher_on_a_video_follows_the_flow_when_asked(tmp_path, monkeypatch, capsys):
    from helpers import make_clip

    from stylenet.cli import gatys
    from stylenet.config import compose
    from stylenet.errors import StylenetError
    from stylenet.inference.video import frame_count

    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "pan.mp4", frames=6, size=(64, 48), audio=False)
    base = ["content=pan.mp4", "loss.weights=random", "iterations=8", "size=64", "style.size=64", "progress=false", "max_frames=5",
            "init=uniform"]  # frame by frame from white noise flickers (Ruder et al.'s baseline); with the flow, frames start from the last
    errors = {}
    for weight in (0, 200):
        torch.manual_seed(0)  # the random VGG weights: the same loss for both runs
        out = gatys.run(compose("gatys", [*base, f"temporal_weight={weight}", f"out=t{weight}.mp4"]))
        assert out.name == f"t{weight}.mp4" and frame_count(tmp_path / out) == 5
        line = capsys.readouterr().out.strip().splitlines()[-1]
        errors[weight] = float(line.split("warping error ")[1].split()[0])
    assert errors[200] < 0.5 * errors[0]  # Ruder et al.: warped start + temporal loss, far less flicker
    with pytest.raises(StylenetError, match="on a video the teacher runs with scales=1"):
        gatys.run(compose("gatys", [*base, "scales=2"]))
