"""Atomic writes (stylenet/files.py) and the file checks shared by the readers."""

from __future__ import annotations

import os

import pytest
import torch

from stylenet.files import atomic_path, is_temporary, not_a_regular_file
from stylenet.networks.checkpoint import atomic_save


def test_atomic_save_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "c.pth"
    atomic_save({"v": 1}, path)

    def boom(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pth"]  # no temporary left behind


def test_only_the_temporaries_of_atomic_path_count_as_leftovers(tmp_path):
    names = []
    for target in ["photo_wave.jpg", "last.ckpt", "README"]:
        with atomic_path(tmp_path / target) as tmp:
            names.append(tmp.name)
    assert all(is_temporary(n) for n in names), names
    # a user's hidden files in an output folder are not ours to delete
    for other in [".notes.tmp", ".tmp", ".bashrc", "x.tmp.jpg", ".cache.tmpdir", ".a.b.tmp.png", "photo_wave.jpg"]:
        assert not is_temporary(other), other


def test_not_a_regular_file_says_why(tmp_path):
    (tmp_path / "ok.jpg").write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    assert not_a_regular_file(tmp_path / "ok.jpg") is None
    assert not_a_regular_file(tmp_path / "pipe.jpg").startswith("not a regular file")
    assert not_a_regular_file(tmp_path / "loop.jpg") == "a symbolic link loop"
    assert not_a_regular_file(tmp_path) == "a folder, not a file"
    assert not_a_regular_file(tmp_path / "missing.jpg") == "no such file"


def test_a_killed_writers_temporary_goes_at_once_a_running_ones_stays(tmp_path):
    """The writer's pid and machine are in the name: a leftover whose writer is gone from this machine is removed
    by the next run at once (it waited 10 minutes before); a live writer's file, or another machine's, stays."""
    import subprocess
    import sys

    from stylenet.files import _HOST, remove_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    gone = tmp_path / f".photo_wave.{dead}@{_HOST}-k3j_9x0a.jpg.tmp.jpg"
    alive = tmp_path / f".photo_udnie.{os.getpid()}@{_HOST}-abcdefgh.jpg.tmp.jpg"
    elsewhere = tmp_path / f".photo_scream.{dead}@0123abcd-abcdefgh.jpg.tmp.jpg"  # another machine: its pid means nothing here
    for p in (gone, alive, elsewhere):
        p.write_bytes(b"partial")
        assert is_temporary(p.name)
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, elsewhere.name])
    with atomic_path(tmp_path / "x.png") as tmp:
        assert f".{os.getpid()}@{_HOST}-" in tmp.name
