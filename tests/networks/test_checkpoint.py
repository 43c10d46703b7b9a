"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import os
import random

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


def _crafted(tmp_path, name, edit):
    """A real tiny checkpoint whose metadata (or state_dict) a hostile tester edited."""
    ckpt = {"stylenet": tiny_meta(), "state_dict": TransformerNet(8, 1).state_dict()}
    edit(ckpt)
    torch.save(ckpt, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("name, edit, match", [
    ("deep", lambda c: c["stylenet"]["arch"].update(num_residual_blocks=10**6), r"arch.num_residual_blocks=1000000 is not a whole number in \[0, 64\]"),
    ("wide", lambda c: c["stylenet"]["arch"].update(base_channels=100000), r"arch.base_channels=100000 is not a whole number in \[1, 512\]"),
    ("negative", lambda c: c["stylenet"]["arch"].update(base_channels=-8), r"arch.base_channels=-8"),
    ("float", lambda c: c["stylenet"]["arch"].update(base_channels=8.5), r"arch.base_channels=8.5"),
    ("version_str", lambda c: c["stylenet"].update(format_version="1"), r"format_version='1' is not a whole number"),
    ("newer", lambda c: c["stylenet"].update(format_version=99), r"newer stylenet \(format 99\); upgrade stylenet"),
    ("meta_list", lambda c: c.update(stylenet=[1, 2]), r"'stylenet' is list, not a mapping"),
    ("arch_none", lambda c: c["stylenet"].update(arch=None), r"'arch' is NoneType, not a mapping"),
    ("arch_extra", lambda c: c["stylenet"]["arch"].update(kernel=99), r"unknown arch settings \['kernel'\]"),
    ("arch_name", lambda c: c["stylenet"]["arch"].update(name="ResNet50"), r"unknown architecture 'ResNet50'"),
    ("arch_output", lambda c: c["stylenet"]["arch"].update(output="sigmoid"), r"arch.output='sigmoid' is not one of tanh, clamp"),
    ("arch_stem", lambda c: c["stylenet"]["arch"].update(stem="pixels"), r"arch.stem='pixels' is not one of full, space_to_depth"),
    ("arch_residual_width", lambda c: c["stylenet"]["arch"].update(residual_channels=10**6), r"arch.residual_channels=1000000 is not a whole number in \[1, 2048\]"),
    ("style_size", lambda c: c["stylenet"]["style"].update(size=10**7), r"style.size=10000000"),
    ("style_size_in_old_bounds", lambda c: c["stylenet"]["style"].update(size=16384), r"style.size=16384 is not a whole number in \[1, 4096\]"),
    ("image_size", lambda c: c["stylenet"]["train"].update(image_size=-1), r"train.image_size=-1"),
    ("stroke_side_small", lambda c: c["stylenet"]["style"].update(stroke_side=8), r"style.stroke_side=8 is not a whole number in \[64, 16384\]"),
    ("stroke_side_text", lambda c: c["stylenet"]["style"].update(stroke_side="big"), r"style.stroke_side='big'"),
    ("sd_list", lambda c: c.update(state_dict=[1, 2]), r"'state_dict' is list, not a mapping"),
    ("sd_values", lambda c: c["state_dict"].update({"x": 3}), r"entries that are not named tensors"),
])
def test_crafted_metadata_is_refused_in_one_line_before_any_allocation(tmp_path, name, edit, match):
    # Before the bounds, num_residual_blocks=10**6 grew memory at ~290 MB/s until the machine was gone.
    path = _crafted(tmp_path, f"{name}.ckpt", edit)
    with pytest.raises(CheckpointError, match=match) as e:
        load_network(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("head", [b"", b"\x80"])  # 0x80 starts a pickle: such bytes were called "objects"
def test_random_bytes_are_called_what_they_are(tmp_path, head):
    (tmp_path / "random.ckpt").write_bytes(head + random.Random(0).randbytes(4096))  # seeded: the same bytes every run
    with pytest.raises(CheckpointError, match=r"is not a readable checkpoint \((truncated or )?not a torch file"):
        read_checkpoint(tmp_path / "random.ckpt")  # was "holds objects that are not plain tensors" in train/evaluate


def test_a_format_1_light_file_loads_under_todays_names(tmp_path):
    net = TransformerNet(8, 1)
    renamed = {k.replace("downsample.", "encoder.", 1).replace("upsample.", "decoder.", 1): v for k, v in net.state_dict().items()}
    meta = tiny_meta()
    meta["format_version"] = 1
    atomic_save({"stylenet": meta, "state_dict": renamed}, tmp_path / "v1.pt")
    loaded, meta = load_network(tmp_path / "v1.pt")
    assert meta["format_version"] == 2
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net.eval()(x))


def test_a_fast_network_round_trips_with_its_stem_and_width(tmp_path):
    net = TransformerNet(8, 2, stem="space_to_depth", residual_channels=12)
    meta = tiny_meta()
    meta["arch"] = {"name": "TransformerNet", **net.config}
    atomic_save({"stylenet": meta, "state_dict": net.state_dict()}, tmp_path / "fast.pth")
    loaded, meta = load_network(tmp_path / "fast.pth")
    assert loaded.config == {"base_channels": 8, "num_residual_blocks": 2, "stem": "space_to_depth", "residual_channels": 12}
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), net.eval()(x))
