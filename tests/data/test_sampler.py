"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import hashlib

import datasets
import huggingface_hub
import lightning as L
import pytest
import torch

from stylenet.data.datamodule import ContentImageDataModule, EpochSampler, ResumableLoader

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)


pytestmark = [  # Lightning's notes about the tiny test module, not about the data
    pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may reach the network; datasets' cache goes to tmp."""
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


def datamodule(path, **kw) -> ContentImageDataModule:
    kw = {"image_size": 16, "batch_size": 2, "num_workers": 0, "pin_memory": False, **kw}
    return ContentImageDataModule(path=str(path), **kw)


def epochs(dm: ContentImageDataModule, n: int = 1) -> list[list[torch.Tensor]]:
    """``n`` epochs as the LightningModule sees them (through the main-process batch hook)."""
    dm.setup("fit")
    loader = dm.train_dataloader()
    return [[dm.on_before_batch_transfer(b, 0) for b in loader] for _ in range(n)]


def batches(dm: ContentImageDataModule) -> list[torch.Tensor]:
    return epochs(dm)[0]


MODES = {  # mode → (file name, save kwargs)
    "L": ("l.png", {}), "LA": ("la.png", {}), "P": ("p.png", {}), "RGBA": ("rgba.png", {}),
    "1": ("one.png", {}), "I;16": ("i16.png", {}), "I": ("i.tif", {}), "F": ("f.tif", {}),
    "CMYK": ("cmyk.jpg", {"quality": 95}), "RGB": ("rgb.webp", {}), "YCbCr": ("ycbcr.jpg", {}),
}


class Recorder(L.LightningModule):
    """Records what the training step receives: (global step, batch hash, batch)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: dict[int, str] = {}
        self.images: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32
        self.seen[self.global_step] = hashlib.sha1(batch.numpy().tobytes()).hexdigest()
        self.images.append(batch.clone())
        return (self.w * batch.mean()).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(dm, tmp_path, ckpt_path=None, callbacks=(), **trainer_kw) -> Recorder:
    model = Recorder()
    kw = {"max_epochs": 2, **trainer_kw}
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=bool(callbacks), callbacks=list(callbacks),
                        default_root_dir=tmp_path, num_sanity_val_steps=0, **kw)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
    return model


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
