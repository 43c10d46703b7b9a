"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import datasets
import huggingface_hub
import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

from stylenet.data.datamodule import ContentImageDataModule, DataError
from stylenet.data.datasets import decode_cell
from stylenet.data.images import ImageError

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


def noise(path: Path, seed: int, size=(24, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


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


def colors(images: torch.Tensor) -> set[tuple[int, ...]]:
    """Mean colour of each image, to the nearest 5 (JPEG shifts a solid colour by a level or two)."""
    return {tuple(5 * round(c / 5) for c in (img.mean((1, 2)) * 255).tolist()) for img in images}


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


def png_bytes(color=None, seed=0) -> bytes:
    """A solid colour, or noise (so that crop positions change the pixels) when no colour is given."""
    buf = io.BytesIO()
    if color is None:
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (18, 20, 3), dtype=np.uint8)).save(buf, "PNG")
    else:
        Image.new("RGB", (20, 18), color).save(buf, "PNG")
    return buf.getvalue()


def test_hf_source_loads_a_local_imagefolder_through_load_dataset(tmp_path):
    for i, c in enumerate([RED, GREEN, BLUE, YELLOW]):
        solid(tmp_path / "ds" / "train" / f"{i}.png", c)
    dm = datamodule(tmp_path / "ds", source="hf", split="train", cache_dir=str(tmp_path / "cache"))
    x = torch.cat(batches(dm))
    assert x.shape == (4, 3, 16, 16) and colors(x) == {RED, GREEN, BLUE, YELLOW}


def test_hf_source_skips_and_reports_bad_rows_of_a_saved_dataset(tmp_path):
    rows = [{"bytes": png_bytes(c), "path": f"{i}.png"} for i, c in enumerate([RED, GREEN, BLUE])]
    rows.insert(1, {"bytes": b"not a png", "path": "junk.png"})
    features = datasets.Features({"image": datasets.Image(), "caption": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({"image": rows, "caption": ["a", "b", "c", "d"]}, features=features)
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "saved"))
    dm = datamodule(tmp_path / "saved", source="hf", random_crop=False)
    x = torch.cat(batches(dm))
    assert colors(x) <= {RED, GREEN, BLUE} and len(x) == 4
    assert list(dm.skipped) == ["junk.png"]
    with pytest.raises(DataError, match="no split 'test'"):
        datamodule(tmp_path / "saved", source="hf", split="test").setup("fit")
    with pytest.raises(DataError, match="no column 'photo'"):
        datamodule(tmp_path / "saved", source="hf", image_column="photo").setup("fit")


def test_hf_hub_id_offline_is_one_clear_line_naming_the_way_out():
    dm = datamodule("someone/photos-that-need-network", source="hf")
    with pytest.raises(DataError, match="cannot reach Hugging Face dataset.*data=folder") as e:
        dm.setup("fit")
    assert "\n" not in str(e.value)


def test_streaming_hf_dataset_trains_and_resumes_at_its_position(tmp_path):
    rows = [{"bytes": png_bytes(seed=i), "path": f"{i}.png"} for i in range(10)]
    rows.insert(4, {"bytes": b"broken", "path": "broken.png"})
    ds = datasets.Dataset.from_dict({"image": rows}, features=datasets.Features({"image": datasets.Image()}))
    ds.save_to_disk(str(tmp_path / "saved"))
    make = lambda: datamodule(tmp_path / "saved", source="hf", streaming=True, shuffle_buffer=0)
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1)
    full = fit(make(), tmp_path, callbacks=[ckpt], max_epochs=-1, max_steps=8).seen
    assert len(full) == 8 and len(set(full.values())) == 8  # 5 batches per pass: goes on into a 2nd pass
    dm = make()
    resumed = fit(dm, tmp_path, ckpt_path=tmp_path / "ckpt" / "step=3.ckpt", max_epochs=-1, max_steps=8).seen
    assert resumed == {s: h for s, h in full.items() if s >= 3}
    assert dm.val_images(2).shape == (2, 3, 16, 16)
    assert list(dm.skipped) == ["broken.png"]


def test_streaming_ddp_ranks_read_disjoint_parts_of_the_stream(tmp_path):
    rows = [{"bytes": png_bytes((i * 20, 0, 0)), "path": f"{i}.png"} for i in range(10)]
    ds = datasets.Dataset.from_dict({"image": rows}, features=datasets.Features({"image": datasets.Image()}))
    ds.save_to_disk(str(tmp_path / "saved"))
    dm = datamodule(tmp_path / "saved", source="hf", streaming=True, shuffle_buffer=0)
    dm.setup("fit")
    parts = []
    for rank in (0, 1):
        stream = iter(dm.train_set.for_rank(rank, 2))
        parts.append({5 * round(next(stream)["image"][0].mean().item() * 255 / 5) for _ in range(5)})
    assert not parts[0] & parts[1] and parts[0] | parts[1] == {i * 20 for i in range(10)}


def test_a_decoded_image_without_finite_pixels_is_refused_naming_its_row():
    img = Image.fromarray(np.full((4, 4), np.nan, dtype=np.float32), "F")
    with pytest.raises(ImageError, match=r"^data\[7\]: no finite pixel values"):
        decode_cell(img, "data[7]")
