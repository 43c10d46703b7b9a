"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import io

import datasets
import numpy as np
import pytest
import torch
from helpers import BLUE, GREEN, RED, YELLOW, batches, colors, datamodule, fit, solid
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

from stylenet.data.datamodule import DataError
from stylenet.data.datasets import decode_cell
from stylenet.data.images import ImageError

pytestmark = [  # Lightning's notes about the tiny test module, not about the data
    pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
]


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
