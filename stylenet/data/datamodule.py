"""Content photos for training: one LightningDataModule over a folder of images or a Hugging Face dataset.

One pipeline for every source: the photos become a ``datasets`` table (a folder → ``Dataset.from_dict({"path":
[...]})``; ``hf`` → ``load_dataset``/``load_from_disk`` with the image column left undecoded) that a small torch
Dataset decodes with :func:`stylenet.data.images.open_image` (EXIF orientation, every Pillow mode, bomb guard),
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
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from stylenet.data.datasets import ContentImages, CropTransform, StreamImages, load_hf, prepare_image_column
from stylenet.data.images import IMAGE_EXTENSIONS, ImageError
from stylenet.data.listing import DataError, list_images
from stylenet.data.sampler import EpochSampler, ResumableLoader, collate
from stylenet.files import atomic_write_text

log = logging.getLogger(__name__)

SKIPPED_FILE = "skipped_images.txt"
SOURCES = ("folder", "hf")


MAX_RESIZE = 4096  # px, the short side before cropping: every photo is resized to at most this
MAX_IMAGE_SIZE = 2048  # px, the training crop's side (the paper's is 256; an unbounded one was killed by the kernel at 24 GB)


def check_resize(resize: Any, image_size: int) -> tuple[int, int]:
    """``data.resize`` as (lo, hi): unset = image_size, a number, or a range [lo, hi] of short sides to draw
    from (scale augmentation); one line for anything a run cannot use."""
    values = list(resize) if isinstance(resize, Sequence) and not isinstance(resize, str) else [image_size if resize is None else resize]
    try:
        floats = [float(v) for v in values]
        ints = [int(f) for f in floats]
    except (TypeError, ValueError, OverflowError):
        floats, ints = [], []
    if len(ints) not in (1, 2) or ints != floats or ints != sorted(ints):
        raise DataError(f"data.resize={resize}: give one short side in px (resize=512) or a range resize=[256,768] (low first)")
    if ints[0] < image_size or ints[-1] > MAX_RESIZE:
        raise DataError(f"data.resize={resize}: every short side must be between data.image_size={image_size} (the crop must "
                        f"fit) and {MAX_RESIZE} px")
    return ints[0], ints[-1]


def default_workers() -> int:
    """``data.num_workers=null``: one loader process per CPU this process may use, at most 4. More than the
    CPUs only adds switching (torch warns about it), and decoding 4 photos a step keeps up at 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


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
        num_workers: int | None = None,
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
        if not 16 <= int(image_size) <= MAX_IMAGE_SIZE:
            raise DataError(f"data.image_size={image_size}: use a crop side from 16 to {MAX_IMAGE_SIZE} px (256 is the usual)")
        resize = check_resize(resize, int(image_size))
        if num_workers is None:
            num_workers = default_workers()
        for key, value, low in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0), ("num_val_images", num_val_images, 0)):
            if int(value) < low:
                raise DataError(f"data.{key}={value} must be >= {low}")
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
        self.image_size, self.resize = int(image_size), resize
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
        self._grid_extra: ContentImages | None = None  # with val_split: the training photos that fill up a grid
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
            ds = prepare_image_column(
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
            # A small split (data=sample holds out one photo) still shows a full grid: the held-out photos
            # first, then training photos, centre-cropped alike.
            self._grid_extra = ContentImages(table, column, val_tf, self.seed, label)
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
            for source in [s for s in (self._grid_source, self._grid_extra) if s is not None]:
                for _, img in self._readable(source):
                    images.append(source.transform(img))
                    if len(images) == n:
                        break
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
