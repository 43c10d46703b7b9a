"""Content photos for training: one LightningDataModule over a folder of images or a Hugging Face dataset.

One pipeline for every source: the photos become a ``datasets`` table (a folder → ``Dataset.from_dict({"path":
[...]})``; ``hf`` → ``load_dataset``/``load_from_disk`` with the image column left undecoded) that a small torch
Dataset decodes with :func:`stylenet.images.open_image` (EXIF orientation, every Pillow mode, bomb guard),
resizes (short side) and crops. What reaches the LightningModule is a float B×3×H×W RGB batch in [0, 1].

Bad files never stop training: a photo that cannot be read is replaced by the next readable one and its path
travels with the batch (``"skipped"``), so files found bad inside worker processes are reported by the main
process: one warning per file at first sight, a summary at the end, and ``<log_dir>/skipped_images.txt``.

Exact resume: an epoch's order is a permutation drawn from (seed, epoch) and sharded over DDP ranks, and every
crop is drawn from (seed, epoch, index), so a batch depends only on its position. Each batch carries the
position it reached; the DataModule records the position of the last batch the loop *consumed* (Lightning's
fetcher prefetches one batch of unsized loaders, so "yielded" is not "consumed"), saves it in every checkpoint
(LightningDataModule.state_dict) and every pass of the train loader starts there.
"""

from __future__ import annotations

import copy
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset, get_worker_info

from stylenet.errors import StylenetError, first_line
from stylenet.files import atomic_write_text
from stylenet.images import IMAGE_EXTENSIONS, ImageError, is_image_path, open_image, pil_to_tensor, to_rgb

log = logging.getLogger(__name__)

SKIPPED_FILE = "skipped_images.txt"
SOURCES = ("folder", "hf")


class DataError(StylenetError, ValueError):
    """The training data cannot be used at all (missing folder, no readable image, bad option); one line."""


# --------------------------------------------------------------------------------------------- listing


def list_images(root: str | os.PathLike) -> tuple[list[str], int]:
    """Every image file under ``root`` (nested folders too), sorted, and the number of other entries ignored.

    Only directory entries are read (os.scandir, no decode, no per-file stat), so COCO's 80k-file train2014
    lists in well under a second. Hidden entries (".DS_Store", macOS "._x.jpg" resource forks, ".git") are
    ignored like non-image files. Symlinked folders are followed once.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"image folder {root} does not exist; set data.path to a folder of photos")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; set data.path to a folder of photos")
    images: list[str] = []
    ignored = 0
    seen_dirs = {os.path.realpath(root)}
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = os.scandir(folder)
        except OSError as e:  # e.g. permission denied on one sub-folder: the rest is still usable
            log.warning("cannot list %s (%s); its images are left out", folder, e.strerror or e)
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith("."):
                    ignored += 1
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    ignored += 1
                    continue
                if is_dir:
                    real = os.path.realpath(entry.path) if entry.is_symlink() else entry.path
                    if real not in seen_dirs:  # a symlink loop would otherwise never end
                        seen_dirs.add(real)
                        stack.append(entry.path)
                elif is_image_path(entry.name):
                    images.append(entry.path)
                else:
                    ignored += 1
    images.sort()
    return images, ignored


# ------------------------------------------------------------------------------------------ decoding


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
        return to_rgb(value)[0]
    raise ImageError(f"{name}: not an image ({type(value).__name__})")


def _open_bytes(data, name: str) -> Image.Image:
    stream = io.BytesIO(data)
    stream.name = name  # open_image's errors name the row, not "<BytesIO object>"
    return open_image(stream)


class CropTransform:
    """Resize the short side to ``resize`` (up or down: photos smaller than the crop are upscaled so the crop
    always fits), then take a ``size``×``size`` crop: at a random place drawn from ``rng``, or the centre."""

    def __init__(self, size: int, resize: int | None = None, random: bool = True):
        self.size = int(size)
        self.resize = int(resize or size)
        self.random = random

    def __call__(self, img: Image.Image, rng: np.random.Generator | None = None) -> torch.Tensor:
        w, h = img.size
        scale = self.resize / min(w, h)
        if scale != 1:
            # reducing_gap: box pre-reduction of big photos before the bicubic; Pillow documents >= 3 as
            # "indistinguishable from fair resampling in most cases", and it is much cheaper for 12 Mpx photos.
            new = (max(self.resize, round(w * scale)), max(self.resize, round(h * scale)))
            img = img.resize(new, Image.Resampling.BICUBIC, reducing_gap=3.0)
            w, h = img.size
        if self.random and rng is not None:
            x, y = int(rng.integers(0, w - self.size + 1)), int(rng.integers(0, h - self.size + 1))
        else:
            x, y = (w - self.size) // 2, (h - self.size) // 2
        return pil_to_tensor(img.crop((x, y, x + self.size, y + self.size)))


def crop_rng(*key: int) -> np.random.Generator:
    # Seeded by position, not by worker RNG state: the same crop after a resume and for any num_workers.
    return np.random.default_rng([int(k) for k in key])


# ------------------------------------------------------------------------------------ map-style data


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


class EpochSampler(DistributedSampler):
    """Shuffled order drawn from (seed, epoch), this rank's shard of it, started at a position.

    A DistributedSampler so that Lightning (use_distributed_sampler) keeps it instead of wrapping it under
    DDP; rank and world size come from the trainer. Yields (index, epoch, position) so each sample knows where
    in the epoch it is. :class:`ResumableLoader` sets epoch and start (:meth:`resume`) before each pass.
    """

    def __init__(self, size: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True, seed: int = 0):
        super().__init__(range(size), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.size = size
        self.start = 0

    def resume(self, epoch: int, start: int) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def __iter__(self):
        order = list(super().__iter__())  # torch's (seed + epoch) permutation, padded, sharded by rank
        start, self.start = self.start, 0
        for position in range(start, len(order)):
            yield order[position], self.epoch, position


# -------------------------------------------------------------------------------------- streaming data


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


# ----------------------------------------------------------------------------------------- loading


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "image": torch.stack([s["image"] for s in samples]),
        "skipped": [item for s in samples for item in s["skipped"]],
    }
    last = samples[-1]
    if "seen" in last:
        batch["epoch"], batch["seen"] = last["epoch"], max(s["seen"] for s in samples)
    if "stream" in last:  # a batch comes from one worker: its last sample holds the stream position
        batch["stream"] = last["stream"]
    return batch


class ResumableLoader(DataLoader):
    """A DataLoader whose every pass starts where the consumed batches stopped.

    ``progress`` (shared with the DataModule, which fills it from each consumed batch and saves it in the
    checkpoint) holds the cursor: (epoch, samples seen by this rank) for map-style data, each worker's stream
    position for streams. A pass that runs to its end moves the cursor to the next epoch. The epoch therefore
    comes from the data itself, not from Lightning's set_epoch: that one lags on resume (issue #21938) and
    jumps by two when iteration-based training resumes from an end-of-epoch checkpoint (seen in 2.6.6).
    ``state_dict``/``load_state_dict`` make it a Lightning ``_Stateful`` loader too (same content).
    """

    def __init__(self, *args, progress: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.progress = progress if progress is not None else {}

    def __iter__(self):
        # Lazy (a generator): the cursor is read, and the sampler and workers start, at the first next(), after
        # any checkpoint state was loaded.
        sampler = self.sampler
        if isinstance(self.dataset, StreamImages):
            self.dataset.resume = self._stream_cursor()
            yield from super().__iter__()
        elif isinstance(sampler, EpochSampler):
            epoch, start = self._cursor()
            sampler.resume(epoch, start)
            yield from super().__iter__()
            self.progress.update(epoch=epoch, seen=self._samples_per_epoch())  # ran to the end
        else:  # a sampler Lightning put in (overfit_batches): plain order
            yield from super().__iter__()

    def _samples_per_epoch(self) -> int:
        return len(self) * self.batch_size if self.drop_last else self.sampler.num_samples

    def _cursor(self) -> tuple[int, int]:
        p, sampler = self.progress, self.sampler
        epoch, seen = int(p.get("epoch", 0)), int(p.get("seen", 0))
        if p.get("size", sampler.size) != sampler.size or p.get("seed", sampler.seed) != sampler.seed:
            log.warning("the training set changed since the checkpoint (%s images, seed %s → %s images, seed %s): "
                        "epoch %d restarts from its beginning", p.get("size"), p.get("seed"), sampler.size,
                        sampler.seed, epoch)
            seen = 0
        else:
            # Ranks interleave one global permutation, so its first seen×world positions are consumed whatever
            # the world size: a run resumed on another number of GPUs goes on at the same global position.
            seen = seen * int(p.get("world_size", sampler.num_replicas)) // sampler.num_replicas
        if seen >= self._samples_per_epoch():
            epoch, seen = epoch + 1, 0
        p.update(kind="map", epoch=epoch, seen=seen, size=sampler.size, seed=sampler.seed,
                 world_size=sampler.num_replicas)
        return epoch, seen

    def _stream_cursor(self) -> dict | None:
        p = self.progress
        if p.get("workers") and p.get("num_workers") != self.num_workers:
            log.warning("the stream was saved with num_workers=%s, resumed with %s: it restarts from its beginning "
                        "(keep num_workers to resume where it stopped)", p.get("num_workers"), self.num_workers)
            p.pop("workers")
        p.update(kind="stream", num_workers=self.num_workers)
        return copy.deepcopy(p) if p.get("workers") else None

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.progress)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.progress.clear()
            self.progress.update(copy.deepcopy(state))


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


def _prepare_image_column(ds, column: str, path: str):
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


# ------------------------------------------------------------------------------------- data module


class ContentImageDataModule(L.LightningDataModule):
    """Training photos for style transfer: float B×3×``image_size``² RGB batches in [0, 1].

    Sources: ``folder`` (any folder of images, nested or flat; ``data=sample`` is the folder of shipped
    photos) and ``hf`` (``path`` = a ``datasets`` hub id, a local dataset folder or a ``save_to_disk`` folder;
    ``split``, ``config_name``, ``streaming``, ``image_column``, ``shuffle_buffer``).

    Validation photos: ``val_split`` (a fraction < 1 or a count, drawn from the training source with ``seed``)
    or ``val_path`` (a separate folder); without either, :meth:`val_images` shows training photos and there is
    no validation loader. :meth:`val_images` returns the fixed grid photos; :attr:`skipped` maps each skipped
    file to its reason (also in ``<log_dir>/skipped_images.txt``).
    """

    def __init__(
        self,
        source: str = "folder",
        path: str | None = None,
        image_size: int = 256,
        resize: int | None = None,
        random_crop: bool = True,
        batch_size: int = 4,
        num_workers: int = 4,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        val_split: float | int = 0,
        val_path: str | None = None,
        num_val_images: int = 8,
        seed: int = 0,
        split: str = "train",
        config_name: str | None = None,
        streaming: bool = False,
        image_column: str = "image",
        shuffle_buffer: int = 1000,
        cache_dir: str | None = None,
        log_dir: str | None = None,
    ):
        super().__init__()
        if source not in SOURCES:
            raise DataError(f"unknown data source '{source}'; use one of {', '.join(SOURCES)} (or data=sample)")
        if not path:
            what = "image folder" if source == "folder" else "dataset id or folder"
            raise DataError(f"data.path is not set; give the {what}")
        if int(image_size) < 16:
            raise DataError(f"data.image_size={image_size} is too small; use at least 16 (256 is the usual)")
        if resize is not None and int(resize) < int(image_size):
            raise DataError(f"data.resize={resize} is smaller than data.image_size={image_size}; the short side "
                            "must reach the crop (leave resize unset to use image_size)")
        if int(batch_size) < 1 or int(num_workers) < 0 or int(num_val_images) < 0:
            raise DataError("data.batch_size must be >= 1, data.num_workers and data.num_val_images >= 0")
        if val_split and val_path:
            raise DataError("set either data.val_split or data.val_path, not both")
        fraction = isinstance(val_split, float) and 0 < val_split < 1
        if val_split and (val_split < 0 or not (fraction or float(val_split).is_integer())):
            raise DataError(f"data.val_split={val_split}: use a fraction in (0, 1) or a whole number of photos")
        if streaming and val_split:
            # datasets splits skip(n) between DataLoader workers, so take(n)/skip(n) would not hold the same
            # rows out of every worker's stream.
            raise DataError("a streaming dataset cannot hold out data.val_split; give validation photos with "
                            "data.val_path=FOLDER")
        self.save_hyperparameters(logger=False)
        self.source, self.path = source, str(path)
        self.image_size, self.resize = int(image_size), int(resize or image_size)
        self.random_crop = bool(random_crop)
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers) and self.num_workers > 0
        self.val_split, self.val_path = val_split or 0, val_path
        self.num_val_images, self.seed = int(num_val_images), int(seed)
        self.split, self.config_name, self.streaming = split, config_name, bool(streaming)
        self.image_column, self.shuffle_buffer = image_column, int(shuffle_buffer)
        self.cache_dir, self.log_dir = cache_dir, log_dir

        self.skipped: dict[str, str] = {}  # bad file → reason, in the order met (main process)
        self.ignored_files = 0  # non-image files under the folders, not listed
        self.train_set: ContentImages | StreamImages | None = None
        self.val_set: ContentImages | None = None
        self._grid_source: ContentImages | None = None
        self._grid: torch.Tensor | None = None
        self._grid_asked = 0  # the most photos val_images was asked for (fewer may exist)
        self._progress: dict[str, Any] = {}  # the train loader's state (see ResumableLoader)
        self._skipped_file: Path | None = None

    # ---- building

    def _transform(self, train: bool) -> CropTransform:
        return CropTransform(self.image_size, self.resize, random=train and self.random_crop)

    def _folder_table(self, folder: str, what: str):
        import datasets

        files, ignored = list_images(folder)
        self.ignored_files += ignored
        if not files:
            raise DataError(f"no images ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS[:4])}/...) under {folder} "
                            f"({ignored} other files ignored); set data.{what} to a folder of photos")
        log.info("%s photos: %d images under %s (%d other files ignored)",
                 "validation" if what == "val_path" else "training", len(files), folder, ignored)
        return datasets.Dataset.from_dict({"path": files}), "path"

    def _split_count(self, n: int) -> int:
        if not self.val_split:
            return 0
        fraction = isinstance(self.val_split, float) and self.val_split < 1
        k = max(1, round(n * self.val_split) if fraction else int(self.val_split))
        if k >= n:
            raise DataError(f"data.val_split={self.val_split} leaves no training photos out of {n}; lower it")
        return k

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self._build()
        if self.trainer is not None and self._skipped_file is None:
            self._resolve_log_dir()

    def _ddp(self) -> tuple[int, int]:
        """(rank, world size), asked when a loader is made: setup may have run before the trainer existed."""
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def _build(self) -> None:
        train_tf, val_tf = self._transform(True), self._transform(False)
        label = self.path
        val_table = None
        if self.source == "folder":
            table, column = self._folder_table(self.path, "path")
        else:
            ds = _prepare_image_column(
                load_hf(self.path, self.config_name, self.split, self.streaming, self.cache_dir),
                self.image_column, self.path)
            table, column, label = ds, self.image_column, f"{self.path}[{self.split}]"
        if self.streaming:
            self.train_set = StreamImages(table, column, train_tf, self.seed, self.shuffle_buffer, label)
            # The sample grid (without val_path): the first rows of the stream, the same on every rank.
            grid_rows = list(table.take(max(self.num_val_images, 1) * 4))
            self._grid_source = ContentImages(grid_rows, column, val_tf, self.seed, label)
            if not any(self._readable(self._grid_source)):
                raise DataError(f"none of the first {len(grid_rows)} rows of {label} is a readable image; "
                                "check data.path and data.image_column")
        else:
            k = self._split_count(len(table))
            if k:  # deterministic split: one permutation of the seed
                perm = np.random.default_rng(self.seed).permutation(len(table))
                val_table = table.select(np.sort(perm[:k]))
                table = table.select(np.sort(perm[k:]))
            self.train_set = ContentImages(table, column, train_tf, self.seed, label)
            if next(self._readable(self.train_set), None) is None:
                raise DataError(f"none of the {len(table)} images of {label} can be read; see the warnings above")
        if self.val_path:
            vtable, vcolumn = self._folder_table(self.val_path, "val_path")
            self.val_set = ContentImages(vtable, vcolumn, val_tf, self.seed, self.val_path)
        elif val_table is not None:
            self.val_set = ContentImages(val_table, column, val_tf, self.seed, f"{label} (validation)")
        if self.val_set is not None:
            self._grid_source = self.val_set
            if next(self._readable(self.val_set), None) is None:
                raise DataError(f"none of the {len(self.val_set)} validation images of {self.val_set.label} can "
                                "be read; see the warnings above")
        elif self._grid_source is None:
            self._grid_source = ContentImages(self.train_set.table, column, val_tf, self.seed, label)

    def _readable(self, data: ContentImages):
        """Readable row indices in order, decoding lazily; bad rows are recorded as skipped."""
        for i in range(len(data)):
            try:
                yield i, data.read(i)
            except ImageError as e:
                self._record_skip(data.name(i), str(e))

    def _resolve_log_dir(self) -> None:
        log_dir = self.log_dir
        if log_dir is None and self.trainer is not None and self.trainer.loggers:
            log_dir = self.trainer.log_dir  # a collective call: here, where every rank runs it
        if log_dir is not None:
            rank, world = self._ddp()
            suffix = f".rank{rank}" if world > 1 else ""
            self._skipped_file = Path(log_dir) / SKIPPED_FILE.replace(".txt", f"{suffix}.txt")
            if self.skipped:
                self._write_skipped()

    # ---- loaders

    def _loader_kwargs(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "num_workers": self.num_workers, "collate_fn": collate,
                "pin_memory": self.pin_memory, "persistent_workers": self.persistent_workers}

    def train_dataloader(self) -> ResumableLoader:
        self.setup("fit")
        rank, world = self._ddp()
        if isinstance(self.train_set, StreamImages):
            # Workers must be fresh each pass to start at the cursor (a persistent worker keeps its old copy).
            kwargs = {**self._loader_kwargs(), "persistent_workers": False}
            return ResumableLoader(self.train_set.for_rank(rank, world), progress=self._progress, **kwargs)
        sampler = EpochSampler(len(self.train_set), world, rank, shuffle=True, seed=self.seed)
        # Constant batch size (drop the ragged tail) unless the set is smaller than one batch.
        drop_last = sampler.num_samples >= self.batch_size
        return ResumableLoader(self.train_set, sampler=sampler, drop_last=drop_last, progress=self._progress,
                               **self._loader_kwargs())

    def val_dataloader(self):
        self.setup("fit")
        if self.val_set is None:
            return []  # no validation photos configured: Lightning skips validation
        return DataLoader(self.val_set, shuffle=False, **self._loader_kwargs())

    # ---- what the LightningModule and callbacks use

    def val_images(self, n: int | None = None) -> torch.Tensor:
        """The first ``n`` (default num_val_images) readable validation photos, centre-cropped, as an
        n×3×S×S tensor in [0, 1]: the same photos every call (a fresh copy), for sample grids."""
        self.setup("fit")
        n = self.num_val_images if n is None else int(n)
        if self._grid is None or (len(self._grid) < n and self._grid_asked < n):
            self._grid_asked = n
            images = []
            for _, img in self._readable(self._grid_source):
                images.append(self._grid_source.transform(img))
                if len(images) == n:
                    break
            if len(images) < n:
                log.warning("only %d readable validation photos for a grid of %d", len(images), n)
            self._grid = torch.stack(images) if images else torch.zeros(0, 3, self.image_size, self.image_size)
        return self._grid[:n].clone()

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Main process, once per batch the loop consumes: report skipped files, record the resume position,
        hand the module the plain image tensor."""
        if not (isinstance(batch, dict) and "image" in batch):
            return batch
        for name, reason in batch.get("skipped", ()):
            self._record_skip(name, reason)
        if "seen" in batch:
            self._progress.update(epoch=int(batch["epoch"]), seen=int(batch["seen"]))
        if "stream" in batch:
            state = batch["stream"]
            self._progress.setdefault("workers", {})[int(state["worker"])] = {
                "epoch": int(state["epoch"]), "count": int(state["count"]), "state": state["state"]}
        return batch["image"]

    def state_dict(self) -> dict[str, Any]:
        """Saved in every checkpoint (Lightning restores it before asking for the train loader)."""
        return {"progress": copy.deepcopy(self._progress)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._progress.clear()
        self._progress.update(copy.deepcopy(state_dict.get("progress", {})))

    def skipped_report(self) -> str:
        """A summary of skipped files: a count line, then one "path: reason" line each ("" when none)."""
        if not self.skipped:
            return ""
        lines = [f"{len(self.skipped)} unreadable image file(s) skipped:"]
        lines += [reason if reason.startswith(name) else f"{name}: {reason}" for name, reason in self.skipped.items()]
        return "\n".join(lines)

    def teardown(self, stage: str) -> None:
        if self.skipped:
            where = f" (list in {self._skipped_file})" if self._skipped_file else ""
            log.warning("%d unreadable image file(s) were skipped%s: %s", len(self.skipped), where,
                        ", ".join(list(self.skipped)[:5]) + (", ..." if len(self.skipped) > 5 else ""))

    def _record_skip(self, name: str, reason: str) -> None:
        if name in self.skipped:
            return
        self.skipped[name] = reason
        log.warning("skipping unreadable image: %s", reason)
        self._write_skipped()

    def _write_skipped(self) -> None:
        if self._skipped_file is None:
            return
        atomic_write_text(self.skipped_report() + "\n", self._skipped_file)  # a reader never sees half a list
