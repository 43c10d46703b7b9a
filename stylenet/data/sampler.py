"""Exact resume: an epoch's order is a permutation drawn from (seed, epoch) and sharded over DDP ranks;
the loader starts each pass at the position the last consumed batch reached (saved in every checkpoint)."""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from stylenet.data.datasets import StreamImages

log = logging.getLogger(__name__)


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
