"""``python -m stylenet flicker`` (stylenet/cli/flicker.py): warping error, losses and a side-by-side clip."""

from __future__ import annotations

import csv

import av
import pytest
from conftest import tiny_meta
from helpers import make_clip, make_multi_checkpoint, tiny_net

from stylenet.cli.flicker import run
from stylenet.config import compose
from stylenet.errors import StylenetError
from stylenet.networks.checkpoint import atomic_save


def _ckpt(path, seed):
    meta = tiny_meta()
    atomic_save({"stylenet": meta, "state_dict": tiny_net(seed).state_dict()}, path)
    return path


def test_two_networks_are_scored_on_the_same_frames(tmp_path):
    clip = make_clip(tmp_path / "pan.mp4", frames=8, size=(64, 48))
    a, b = _ckpt(tmp_path / "a.ckpt", 0), _ckpt(tmp_path / "b.ckpt", 1)
    assert run(compose("flicker", [f"ckpts=[{a},{b}]", f"video={clip}", "max_frames=6", "size=null", f"out={tmp_path / 'fl'}",
                                   "backend=torch"])) == 0
    rows = list(csv.DictReader((tmp_path / "fl" / "scores.csv").open()))
    assert [r["network"] for r in rows] == ["input (no stylisation)", str(a), str(b)]
    assert float(rows[0]["warping_error"]) < 1e-3 < float(rows[1]["warping_error"])  # a random net flickers; the pan does not
    assert all(float(r["style"]) > 0 for r in rows[1:])
    assert "| network | warping error | content | style |" in (tmp_path / "fl" / "report.md").read_text()
    with av.open(str(tmp_path / "fl" / "side_by_side.mp4")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 6 and (frames[0].width, frames[0].height) == (3 * 64, 48)


@pytest.mark.parametrize("override, match", [
    ("max_frames=1", r"max_frames=1 is not a whole number in \[2, 500\]"),
    ("max_frames=100000", r"max_frames=100000 is not a whole number in \[2, 500\]"),
    ("size=abc", r"size='abc' is not a whole number in \[16, 2048\]; give one, e.g. size=480"),
    ("size=100000", r"size=100000 is not a whole number in \[16, 2048\]"),
    ("batch_size=0", r"batch_size=0 is not a whole number in \[1, 64\]"),
    ("start=nan", r"start=nan is not a number of seconds >= 0"),
    ("start=-1", r"start=-1 is not a number of seconds >= 0"),
    ("video=nowhere.mp4", "nowhere.mp4: not a readable video \\(no such file\\)"),
])
def test_bad_requests_are_one_line(tmp_path, override, match):
    clip = make_clip(tmp_path / "pan.mp4", frames=4, audio=False)
    ckpt = _ckpt(tmp_path / "a.ckpt", 0)
    with pytest.raises(StylenetError, match=match):
        run(compose("flicker", [f"ckpts={ckpt}", f"video={clip}", f"out={tmp_path / 'fl'}", override]))


def test_a_multi_style_network_paints_the_named_style_and_is_scored_with_its_loss(tmp_path):
    clip = make_clip(tmp_path / "pan.mp4", frames=6, size=(64, 48), audio=False)
    multi = make_multi_checkpoint(tmp_path / "multi.ckpt")
    base = [f"ckpts={multi}", f"video={clip}", "max_frames=4", "size=null", "backend=torch"]
    styles = {}
    for name in ("wave", "udnie"):
        assert run(compose("flicker", [*base, f"style_name={name}", f"out={tmp_path / name}"])) == 0
        (row,) = list(csv.DictReader((tmp_path / name / "scores.csv").open()))[1:]
        assert row["network"] == f"{multi} ({name})"
        styles[name] = float(row["style"])
    assert styles["wave"] != styles["udnie"]  # another painting, another style row and loss
    with pytest.raises(StylenetError, match=r"holds 3 styles \(wave, udnie, the_scream\): choose one with style_name"):
        run(compose("flicker", [*base, f"out={tmp_path / 'x'}"]))


def test_a_fifo_named_like_a_video_is_refused_at_once(tmp_path):
    """open() on a FIFO blocks until a writer comes: refused before opening, in every video reader."""
    import os

    from conftest import without_blocking

    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    ckpt = _ckpt(tmp_path / "a.ckpt", 0)
    cfg = compose("flicker", [f"ckpts={ckpt}", f"video={fifo}", f"out={tmp_path / 'fl'}"])
    with pytest.raises(StylenetError, match=r"clip.mp4: not a readable video \(not a regular file \(a FIFO"):
        without_blocking(lambda: run(cfg), fifo)
