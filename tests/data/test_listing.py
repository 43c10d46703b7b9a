"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import datasets
import huggingface_hub
import lightning as L
import pytest
import torch
from PIL import Image

from stylenet.data.datamodule import ContentImageDataModule, list_images
from stylenet.data.listing import list_photos

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


def solid(path: Path, color=RED, size=(24, 20), mode="RGB", **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).convert(mode).save(path, **save)
    return path


def datamodule(path, **kw) -> ContentImageDataModule:
    kw = {"image_size": 16, "batch_size": 2, "num_workers": 0, "pin_memory": False, **kw}
    return ContentImageDataModule(path=str(path), **kw)


def epochs(dm: ContentImageDataModule, n: int = 1) -> list[list[torch.Tensor]]:
    """``n`` epochs as the LightningModule sees them (through the main-process batch hook)."""
    dm.setup("fit")
    loader = dm.train_dataloader()
    return [[dm.on_before_batch_transfer(b, 0) for b in loader] for _ in range(n)]


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


def test_nested_folders_are_listed_sorted_without_hidden_or_non_image_files(tmp_path):
    for rel in ["z.jpg", "a/b/c/deep.png", "a/x.JPEG", "m/n.webp"]:
        solid(tmp_path / rel)
    (tmp_path / "a" / "notes.md").write_text("x")
    solid(tmp_path / ".hidden" / "h.png")
    solid(tmp_path / "a" / "._x.jpg")
    files, ignored = list_images(tmp_path)
    assert files == sorted(str(tmp_path / r) for r in ["z.jpg", "a/b/c/deep.png", "a/x.JPEG", "m/n.webp"])
    assert ignored == 3


def test_fifos_and_symlink_loops_are_left_out_and_reported(tmp_path, caplog):
    ok = solid(tmp_path / "ok.png")
    os.mkfifo(tmp_path / "pipe.jpg")  # a reader would block on it forever
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    with caplog.at_level(logging.WARNING):
        files, ignored = list_images(tmp_path)
        photos = list_photos([tmp_path, tmp_path / "pipe.jpg", tmp_path / "loop.jpg"])
    assert files == [str(ok)] and ignored == 2
    assert photos == [ok]
    assert "pipe.jpg" in caplog.text and "not a regular file" in caplog.text
    assert "loop.jpg" in caplog.text and "symbolic link loop" in caplog.text
