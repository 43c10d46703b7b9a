"""``python -m stylenet COMMAND``: the one entry of every command (stylenet/__main__.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_commands_are_listed_and_an_unknown_one_is_one_line():
    listed = _run("-m", "stylenet")
    assert listed.returncode == 0 and all(c in listed.stdout for c in ("train", "infer", "gatys", "evaluate", "quality", "flicker", "bench", "decoders", "strokes", "zoo", "demo"))
    unknown = _run("-m", "stylenet", "paint")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == ["error: unknown command 'paint'; choose one of train, infer, gatys, evaluate, quality, flicker, bench, decoders, strokes, zoo, demo"]


@pytest.mark.parametrize("old, new", [("gatys", "gatys"), ("evaluate", "evaluate"), ("bench", "bench")])
def test_the_old_module_commands_say_their_new_form(old, new):
    r = _run("-m", f"stylenet.{old}", "style=wave")
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: python -m stylenet.{old} is now python -m stylenet {new} (same arguments)"


def test_importing_stylenet_under_an_old_command_line_does_not_exit():
    # The old names were caught when `import stylenet` read sys.orig_argv; now each is a module that speaks
    # only when run, so importing the package (or them) with such an argv does nothing.
    code = "import stylenet, stylenet.gatys, stylenet.evaluate, stylenet.bench; print(stylenet.__version__)"
    r = _run("-c", code, "-m", "stylenet.gatys")
    assert r.returncode == 0 and r.stdout.strip() == __import__("stylenet").__version__, r.stderr
