"""Reading universal decoders files (stylenet/universal/checkpoint.py): validation, one line per problem."""

from __future__ import annotations

import pytest
import torch
from helpers import write_universal

from stylenet.networks.checkpoint import CheckpointError, atomic_save, read_checkpoint
from stylenet.universal.checkpoint import read_universal


def _rewrite(path, change):
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    atomic_save(ckpt, path)
    return path


def test_a_written_file_reads_back_every_level(tmp_path):
    decoders, meta = read_universal(write_universal(tmp_path / "u.ckpt", levels=(1, 3)))
    assert sorted(decoders) == [1, 3] and meta.levels == (1, 3) and meta.encoder["network"] == "vgg19"
    assert decoders[3](torch.rand(1, 256, 4, 4)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["stylenet"].update(levels=[1, 2, 99]), r"levels\[\]=99 is not a whole number in \[1, 5\]"),
        (lambda c: c["stylenet"].update(levels=list(range(10**6))), "not a list of 1 to 5 levels"),
        (lambda c: c["stylenet"].update(format_version=7), "newer stylenet"),
        (lambda c: c["stylenet"]["encoder"].update(network="resnet"), "encoder.network='resnet'"),
        (lambda c: c["stylenet"]["train"].update(image_size=10**9), "train.image_size"),
        (lambda c: c["stylenet"].update(width=2), r"width=2 is not a decoder width in \[0.125, 1\]"),
        (lambda c: c["stylenet"].update(width=float("nan")), "width=nan is not a decoder width"),
        (lambda c: c["stylenet"].update(width="0.5"), "width='0.5' is not a decoder width"),
        (lambda c: c["stylenet"].update(width=True), "width=True is not a decoder width"),
        # a width the tensors were not made for: their shapes give it away before loading (level 1 has no hidden layer)
        (lambda c: c["stylenet"].update(width=0.5), r"level-2 decoder's weights do not fit it \(tensors of the wrong shape"),
        # a tensor of another size than the level's decoder: refused before anything is loaded into it
        (lambda c: c["state_dict"].update({"decoders.relu1_1.layers.1.weight": torch.zeros(4096, 64, 3, 3)}),
         r"level-1 decoder's weights do not fit it \(tensors of the wrong shape"),
        (lambda c: c["state_dict"].update({"decoders.relu2_1.layers.1.bias": torch.full((64,), float("nan"))}), "non-finite"),
    ],
)
def test_damaged_or_crafted_files_are_one_line(tmp_path, change, message):
    path = _rewrite(write_universal(tmp_path / "u.ckpt", levels=(1, 2)), change)
    with pytest.raises(CheckpointError, match=message):
        read_universal(path)


def test_a_narrower_decoder_file_says_its_width_and_reads_back_at_it(tmp_path):
    decoders, meta = read_universal(write_universal(tmp_path / "u.ckpt", levels=(4,), width=0.5))
    assert meta.width == 0.5 and meta.to_dict()["width"] == 0.5 and decoders[4].width == 0.5
    convs = [m for m in decoders[4].layers if isinstance(m, torch.nn.Conv2d)]
    assert (convs[0].in_channels, convs[0].out_channels, convs[-1].in_channels, convs[-1].out_channels) == (512, 128, 32, 3)
    assert decoders[4](torch.rand(1, 512, 3, 5)).shape == (1, 3, 24, 40)
    _, full = read_universal(write_universal(tmp_path / "f.ckpt", levels=(1,)))
    assert full.width == 1.0 and "width" not in full.to_dict()  # files as they were before widths: unchanged


def test_a_level_listed_but_absent_names_it_and_the_command_to_train_it(tmp_path):
    path = write_universal(tmp_path / "u.ckpt", levels=(1, 2))
    _rewrite(path, lambda c: c.__setitem__("state_dict", {k: v for k, v in c["state_dict"].items() if "relu2_1" not in k}))
    with pytest.raises(CheckpointError, match=r"holds no weights for it \(relu2_1\).*decoders.levels=\[2\]"):
        read_universal(path)


def test_the_two_kinds_refuse_each_others_reader(tmp_path, setup):
    with pytest.raises(CheckpointError, match="universal decoders, not a trained network"):
        read_checkpoint(write_universal(tmp_path / "u.ckpt", levels=(1,)))
    with pytest.raises(CheckpointError, match="holds a trained style network, not universal decoders"):
        read_universal(setup / "tiny.ckpt")
