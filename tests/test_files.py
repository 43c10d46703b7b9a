"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import pytest
import torch

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
