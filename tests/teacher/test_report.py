"""Scoring a network against the Gatys teacher (stylenet/teacher/evaluate.py) and its training callback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, tiny_meta

from stylenet.data.images import save_image
from stylenet.networks.checkpoint import atomic_save
from stylenet.networks.transformer import TransformerNet

LOSS = {"weights": "random", "content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2"],
        "style_layer_weights": None, "content_weight": 1.0, "style_weight": 1e3, "tv_weight": 1.0, "single_pass": False}


def make_checkpoint(path: Path, style_image: Path, loss: dict | None = None) -> None:
    torch.manual_seed(0)
    net = TransformerNet(8, 1)
    meta = tiny_meta(8, 1)
    meta["style"] = {"name": "tiny", "image": str(style_image), "size": 48}
    meta["loss"] = dict(LOSS if loss is None else loss)
    meta["train"]["image_size"] = 40
    atomic_save({"stylenet": meta, "state_dict": net.state_dict()}, path)


def _evaluate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "stylenet", "evaluate", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def setup(tmp_path):
    torch.manual_seed(1)
    photos = tmp_path / "photos"
    photos.mkdir()
    save_image(torch.rand(1, 3, 30, 40), photos / "a.png")
    save_image(torch.rand(1, 3, 36, 28), photos / "b.jpg")
    (photos / "notes.txt").write_text("not an image, ignored")
    style = tmp_path / "style.png"
    save_image(torch.rand(1, 3, 48, 48), style)
    make_checkpoint(tmp_path / "tiny.ckpt", style)
    return tmp_path


def test_summary_names_the_one_start_used(setup):
    r = _evaluate("ckpt=tiny.ckpt", "photos=photos/a.png", "iterations=2", "out=ev", "repeats=1", "init=content", cwd=setup)
    assert r.returncode == 0, r.stderr
    summary = (setup / "ev" / "summary.md").read_text()
    assert "lbfgs from the photo, up to" in summary and "from noise" not in summary
    r = _evaluate("ckpt=tiny.ckpt", "photos=photos/a.png", "iterations=2", "out=ev2", "repeats=1", "init=noise", cwd=setup)
    assert r.returncode == 0, r.stderr
    summary = (setup / "ev2" / "summary.md").read_text()
    assert "lbfgs from noise (seed 0), up to" in summary and "from the photo" not in summary
    r = _evaluate("ckpt=tiny.ckpt", "photos=photos/a.png", "out=ev3", "init=sideways", cwd=setup)
    assert r.returncode == 1 and "init=sideways must be noise, content" in r.stderr and "Traceback" not in r.stderr
