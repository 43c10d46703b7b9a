"""The shipped models work from an installed wheel, with nothing but the package: each loads by name, stylises
a photo to its size and gives the pixels recorded when it was built (tests/fixtures/zoo_reference/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from stylenet import zoo

REFERENCE = ROOT / "tests" / "fixtures" / "zoo_reference"
SCRIPT = ROOT / "tests" / "zoo" / "stylise_shipped.py"
TOLERANCE = 3  # 8-bit levels: float32 sums in another order on another CPU, rounded once


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """stylenet built into a wheel (no dependencies, no network), as pip would install it."""
    out, src = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("src")
    # Built from a copy of the tracked files: setuptools' build/ folder in a working tree can hold stale modules.
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("stylenet-*.whl")
    return whl


def test_the_wheel_holds_every_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in zoo.names():
        for f in ("model.safetensors", "config.json", "README.md"):
            assert f"stylenet/zoo/{name}/{f}" in names, f"the wheel lacks stylenet/zoo/{name}/{f}: python -m stylenet zoo build {name}"


def test_each_shipped_model_stylises_from_the_installed_package_as_recorded(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a pure-Python wheel installed is its files on the path
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    env.pop(zoo.ZOO_ENV, None)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(SCRIPT), str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines()[0].startswith(str(site)), f"stylenet came from {r.stdout.splitlines()[0]}, not the wheel"
    references = sorted(REFERENCE.glob("*.png"))
    assert len(references) == len(zoo.MODELS["five-paintings"].styles) + 1
    for ref in references:
        got, want = Image.open(out / ref.name), Image.open(ref)
        assert got.size == want.size == (96, 64), ref.name  # chelsea.jpg (451x300) at a long side of 96
        diff = np.abs(np.asarray(got, dtype=int) - np.asarray(want, dtype=int)).max()
        assert diff <= TOLERANCE, (f"{ref.name} differs from its reference by {diff} levels; after a zoo rebuild record "
                                   "new ones: python tests/zoo/stylise_shipped.py tests/fixtures/zoo_reference")
