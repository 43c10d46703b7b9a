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
