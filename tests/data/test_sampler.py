"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import pytest
import torch

from stylenet.data.datamodule import EpochSampler, ResumableLoader

pytestmark = [  # Lightning's notes about the tiny test module, not about the data
    pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
]


class Echo(torch.utils.data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, key):
        return key[0]


def test_ddp_ranks_split_each_epoch_and_resume_at_the_same_global_position():
    ranks = [EpochSampler(10, num_replicas=2, rank=r, seed=3) for r in range(2)]
    shards = [[i for i, _, _ in s] for s in ranks]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    # each of 2 ranks consumed 2 batches of 2 (8 photos in all): one process resumes after those 8
    loader = ResumableLoader(Echo(), sampler=EpochSampler(10, seed=3), batch_size=2, drop_last=True)
    loader.load_state_dict({"kind": "map", "epoch": 0, "seen": 4, "world_size": 2, "size": 10, "seed": 3})
    rest = torch.cat(list(loader)).tolist()
    assert sorted(rest) == sorted(set(range(10)) - set(shards[0][:4] + shards[1][:4]))
    assert loader.state_dict()["epoch"] == 0 and len(torch.cat(list(loader))) == 10  # next pass: epoch 1
