"""Torch datasets over a table of image cells (a folder's paths or a Hugging Face dataset's column): decode,
resize, crop, skip what cannot be read. Every crop is drawn from (seed, epoch, index), so a sample depends
only on its position (exact resume)."""

from __future__ import annotations

import copy
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from stylenet.data.images import ImageError, open_image, pil_to_tensor, to_rgb
from stylenet.data.listing import DataError
from stylenet.errors import first_line

log = logging.getLogger(__name__)


def cell_name(value: Any, default: str) -> str:
    """How to name one image cell in reports: its file path when it has one."""
    if isinstance(value, (str, os.PathLike)):
        return str(value)
    if isinstance(value, dict) and value.get("path"):
        return str(value["path"])  # the original file name, also when the dataset embeds its bytes
    return default


def decode_cell(value: Any, name: str) -> Image.Image:
    """One image cell (a path, ``datasets.Image(decode=False)``'s {"bytes", "path"}, raw bytes or a PIL image)
    → RGB PIL image. Raises :class:`ImageError` naming ``name``."""
    if isinstance(value, (str, os.PathLike)):
        return open_image(value)
    if isinstance(value, dict):
        if value.get("bytes"):
            return _open_bytes(value["bytes"], name)
        if value.get("path"):
            return open_image(value["path"])
        raise ImageError(f"{name}: empty image cell")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _open_bytes(value, name)
    if isinstance(value, Image.Image):  # a column someone decoded already
        return to_rgb(value, name)[0]
    raise ImageError(f"{name}: not an image ({type(value).__name__})")


def _open_bytes(data, name: str) -> Image.Image:
    stream = io.BytesIO(data)
    stream.name = name  # open_image's errors name the row, not "<BytesIO object>"
    return open_image(stream)


class CropTransform:
    """Resize the short side to ``resize`` (up or down: photos smaller than the crop are upscaled so the crop
    always fits), then take a ``size``×``size`` crop: at a random place drawn from ``rng``, or the centre.

    ``resize`` may be a range ``(lo, hi)``: each random crop then draws its short side log-uniformly from it
    (scale augmentation, as torchvision's RandomResizedCrop and Inception's training): a few photos give crops
    of the whole scene and of its flat, zoomed-in parts, instead of the same few views every epoch. The centre
    crop (validation) uses ``lo``."""

    def __init__(self, size: int, resize: int | tuple[int, int] | None = None, random: bool = True):
        self.size = int(size)
        lo, hi = resize if isinstance(resize, (tuple, list)) else (resize, resize)
        self.resize = (int(lo or size), int(hi or size))
        self.random = random

    def __call__(self, img: Image.Image, rng: np.random.Generator | None = None) -> torch.Tensor:
        w, h = img.size
        random = self.random and rng is not None
        lo, hi = self.resize
        short = lo if not random or lo == hi else round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
        scale = short / min(w, h)
        if scale != 1:
            # reducing_gap: box pre-reduction of big photos before the bicubic; Pillow documents >= 3 as
            # "indistinguishable from fair resampling in most cases", and it is much cheaper for 12 Mpx photos.
            new = (max(short, round(w * scale)), max(short, round(h * scale)))
            img = img.resize(new, Image.Resampling.BICUBIC, reducing_gap=3.0)
            w, h = img.size
        if random:
            x, y = int(rng.integers(0, w - self.size + 1)), int(rng.integers(0, h - self.size + 1))
        else:
            x, y = (w - self.size) // 2, (h - self.size) // 2
        return pil_to_tensor(img.crop((x, y, x + self.size, y + self.size)))


def crop_rng(*key: int) -> np.random.Generator:
    # Seeded by position, not by worker RNG state: the same crop after a resume and for any num_workers.
    return np.random.default_rng([int(k) for k in key])


class ContentImages(Dataset):
    """Row ``i`` of a table (``datasets.Dataset`` or any sequence of rows) → {"image": 3×S×S in [0, 1],
    "skipped": [(name, reason), ...]}.

    An unreadable row is replaced by the next readable one (so batches keep their size and order stays a
    function of the seed) and reported in "skipped". Keys from :class:`EpochSampler` are (index, epoch,
    position); the sample then also carries "epoch" and "seen" (= position + 1) for exact resume.
    """

    def __init__(self, table: Sequence, column: str, transform: CropTransform, seed: int = 0, label: str = "data"):
        self.table = table
        self.column = column
        self.transform = transform
        self.seed = int(seed)
        self.label = label
        self._bad: set[int] = set()  # per process: a row known to be bad is not decoded again

    def __len__(self) -> int:
        return len(self.table)

    def read(self, index: int) -> Image.Image:
        """Decode row ``index`` (raises :class:`ImageError`)."""
        value = self.table[index][self.column]
        return decode_cell(value, cell_name(value, f"{self.label}[{index}]"))

    def name(self, index: int) -> str:
        return cell_name(self.table[index][self.column], f"{self.label}[{index}]")

    def __getitem__(self, key) -> dict[str, Any]:
        if isinstance(key, tuple):
            index, epoch, position = key
        else:  # a plain sampler (validation, or Lightning's overfit_batches)
            index, epoch, position = int(key), 0, None
        n = len(self.table)
        if not 0 <= index < n:
            raise IndexError(f"{self.label}: index {index} out of range for {n} images")
        skipped: list[tuple[str, str]] = []
        for k in range(n):
            row = (index + k) % n
            if row in self._bad:
                continue
            try:
                img = self.read(row)
            except ImageError as e:
                self._bad.add(row)
                skipped.append((self.name(row), str(e)))
                continue
            sample = {"image": self.transform(img, crop_rng(self.seed, epoch, index)), "skipped": skipped}
            if position is not None:
                sample["epoch"], sample["seen"] = epoch, position + 1
            return sample
        raise DataError(f"none of the {n} images of {self.label} can be read; see the skipped-file warnings")


class StreamImages(IterableDataset):
    """A streaming ``datasets.IterableDataset`` → endless samples (the stream restarts with the next epoch's
    shuffle when it ends, so DDP ranks never run out at different times; bound training with max_steps).

    Each worker shuffles with ``seed + epoch`` (shards and a ``shuffle_buffer``-row buffer; 0 = stream order)
    and attaches its stream position (``datasets`` state_dict) to every sample, which the DataModule records
    when the batch is consumed. Resume restores each worker's position, so every row is still seen once per
    pass, with two limits: ``datasets`` refills shuffle buffers from there (with shuffle_buffer > 0 the rows
    that sat in a buffer are not seen in that pass), and with num_workers > 1 the DataLoader restarts its
    round-robin at worker 0, so the interleaving of the workers' batches may rotate.
    """

    def __init__(self, stream, column: str, transform: CropTransform, seed: int = 0, shuffle_buffer: int = 0,
                 label: str = "data", rank: int = 0):
        self.stream = stream
        self.column = column
        self.transform = transform
        self.seed = int(seed)
        self.shuffle_buffer = int(shuffle_buffer)
        self.label = label
        self.rank = rank
        self.resume: dict | None = None  # {"num_workers": W, "workers": {worker: {"epoch","count","state"}}}

    def for_rank(self, rank: int, world_size: int) -> StreamImages:
        """This DDP rank's part of the stream (its shards, or every world_size-th row when they do not divide)."""
        if world_size <= 1:
            return self
        from datasets.distributed import split_dataset_by_node

        part = copy.copy(self)
        part.stream = split_dataset_by_node(self.stream, rank=rank, world_size=world_size)
        part.rank = rank
        return part

    def _epoch_stream(self, epoch: int):
        if self.shuffle_buffer > 0:
            return self.stream.shuffle(seed=self.seed + epoch, buffer_size=self.shuffle_buffer)
        return self.stream

    def __iter__(self):
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 0)
        resume = None
        if self.resume and self.resume.get("num_workers") == num_workers:
            resume = self.resume.get("workers", {}).get(worker)
        epoch, count = (resume["epoch"], resume["count"]) if resume else (0, 0)
        while True:
            stream = self._epoch_stream(epoch)
            resumed = resume is not None
            if resumed:
                # datasets keeps a loaded state (in shared sub-iterables too) for every later pass: load a copy
                stream = copy.deepcopy(stream)
                stream.load_state_dict(resume["state"])
                resume = None
            rows = good = 0
            skipped: list[tuple[str, str]] = []
            for row in stream:
                rows += 1
                value = row[self.column]
                name = cell_name(value, f"{self.label}[worker {worker}, row {rows - 1} of the pass]")
                try:
                    img = decode_cell(value, name)
                except ImageError as e:
                    skipped.append((name, str(e)))
                    continue
                image = self.transform(img, crop_rng(self.seed, self.rank, epoch, worker, count))
                count += 1
                good += 1
                state = {"worker": worker, "epoch": epoch, "count": count, "state": stream.state_dict()}
                yield {"image": image, "skipped": skipped, "stream": state}
                skipped = []
            if rows == 0 and not resumed:
                return  # more workers than shards: datasets gives this worker nothing
            if good == 0 and not resumed:
                raise DataError(f"none of the {rows} rows of {self.label} is a readable image")
            epoch, count = epoch + 1, 0


def load_hf(path: str, config_name: str | None = None, split: str = "train", streaming: bool = False,
            cache_dir: str | None = None, num_shards: int = 64):
    """A ``datasets`` Dataset/IterableDataset from a hub id, a local dataset folder (parquet, imagefolder, ...)
    or a ``save_to_disk`` folder. Any failure → one-line :class:`DataError` naming the way out."""
    import datasets

    local = Path(path).expanduser()
    way_out = "or train on local photos with data=folder data.path=/folder/of/photos"
    try:
        if local.is_dir() and ((local / "state.json").exists() or (local / "dataset_dict.json").exists()):
            ds = datasets.load_from_disk(str(local))  # a save_to_disk folder
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise DataError(f"{path} has no split '{split}' (it has {', '.join(ds)}); set data.split")
                ds = ds[split]
            if streaming:
                ds = ds.to_iterable_dataset(num_shards=max(1, min(num_shards, len(ds))))
        else:
            ds = datasets.load_dataset(str(local) if local.is_dir() else path, config_name, split=split,
                                       streaming=streaming, cache_dir=cache_dir)
    except DataError:
        raise
    except ConnectionError as e:
        raise DataError(f"cannot reach Hugging Face dataset '{path}' ({first_line(e)}); check the id and the "
                        f"network (HF_HUB_OFFLINE=1 fails fast offline), {way_out}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"cannot load Hugging Face dataset '{path}' split '{split}' "
                        f"({type(e).__name__}: {first_line(e)}); check data.path and data.split, {way_out}") from None
    return ds


def prepare_image_column(ds, column: str, path: str):
    """Keep only the image column, undecoded: decoding happens in open_image, where bad rows are caught."""
    import datasets

    features = ds.features
    if features is not None:
        if column not in features:
            raise DataError(f"dataset '{path}' has no column '{column}' (columns: {', '.join(features)}); "
                            "set data.image_column")
        if isinstance(features[column], datasets.Image):
            ds = ds.cast_column(column, datasets.Image(decode=False))
    return ds.select_columns([column])
