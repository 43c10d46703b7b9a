"""Scoring a network against the Gatys teacher (stylenet/teacher/evaluate.py) and its training callback."""

from __future__ import annotations

from helpers import _evaluate


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
