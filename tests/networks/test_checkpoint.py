"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import tiny_meta

from stylenet.networks.checkpoint import CheckpointError, atomic_save, load_network, read_checkpoint
from stylenet.networks.transformer import TransformerNet


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    net = TransformerNet(8, 1)
    atomic_save({"stylenet": tiny_meta(), "state_dict": net.state_dict()}, tmp_path / "n.pth")
    loaded, meta = load_network(tmp_path / "n.pth")
    assert meta["style"]["name"] == "wave"
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), net.eval()(x))
    data = (tmp_path / "n.pth").read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 2])
    torch.save({"foo": 1}, tmp_path / "foreign.pth")
    (tmp_path / "text.pth").write_text("hello")
    for name, pattern in [("trunc.pth", "not a readable"), ("foreign.pth", "not a stylenet"), ("text.pth", "not a readable"), ("none.pth", "not found")]:
        with pytest.raises(CheckpointError, match=pattern):
            read_checkpoint(tmp_path / name)


def test_checkpoint_refuses_to_unpickle_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"stylenet": tiny_meta(), "state_dict": {}, "x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()
