"""A cache of the teacher's curves, so that scoring several candidates (a trained network, WCT, AdaIN, a
peer's outputs) on the same photos, painting and loss runs the Gatys optimisation once per photo and start.

Key: SHA-256 of the photo's bytes, the style image's bytes, the style size, the photo size, the loss
config and its VGG weights (:func:`module_digest`), the start (``init``), the seed, the iteration budget K, the optimiser and its lr: everything the
teacher's curve depends on; and the device and thread count (:func:`clock_parts`), because the curve's times are
wall-clock: a curve timed on a GPU (or with 16 threads) must not be the teacher time a 2-core run divides. Value: the curve CSV (:func:`stylenet.teacher.scores.curve_csv`) and the
teacher's last image, under ``<folder>/<key>.csv`` and ``.png``, written atomically.

A cached curve serves a candidate when it ran all K iterations or ended diverged (it would again), or when
it reaches the candidate's total loss (a run with ``full_curve=false`` stops there); otherwise the teacher
runs again and its curve replaces the cached one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from stylenet.data.images import atomic_save_image, load_image
from stylenet.files import atomic_write_text
from stylenet.teacher.gatys import curve_spike
from stylenet.teacher.scores import curve_csv, read_curve_csv


def clock_parts(device: torch.device) -> dict[str, Any]:
    """What the teacher's wall-clock times depend on, for the key: the device (its name on a GPU) and the
    CPU threads (torch's intra-op pool)."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return {"device": name, "threads": torch.get_num_threads()}


def module_digest(module: torch.nn.Module) -> str:
    """SHA-256 of a module's tensors: the loss network's weights are part of the key (a weights file
    replaced at the same path, or ``weights=random``, must not be served another network's curves)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class TeacherCache:
    """The teacher's curves for one photo (``parts``: everything of the key but the start)."""

    def __init__(self, folder: str | os.PathLike, parts: dict[str, Any]):
        self.folder = Path(folder)
        self.parts = parts
        self.hits = self.runs = 0

    def key(self, init: str) -> str:
        blob = json.dumps({**self.parts, "init": init}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def get(self, init: str, target_total: float) -> tuple[list[dict[str, float]], torch.Tensor | None] | None:
        """The cached curve (and last image) from ``init`` if it serves a candidate of loss ``target_total``."""
        path = self.folder / f"{self.key(init)}.csv"
        try:
            history = read_curve_csv(path.read_text())
        except (OSError, ValueError, KeyError, TypeError):  # absent, damaged or without a term's column: run the teacher
            return None
        complete = len(history) == int(self.parts["iterations"]) + 1 or curve_spike([r["total"] for r in history]) is not None
        if not history or not (complete or any(r["total"] <= target_total for r in history)):
            return None
        png = path.with_suffix(".png")
        try:
            image = load_image(png) if png.is_file() else None
        except Exception:  # noqa: BLE001 - a damaged image only loses the figure's panel
            image = None
        self.hits += 1
        return history, image

    def put(self, init: str, history: list[dict[str, float]], image: torch.Tensor) -> None:
        key = self.key(init)
        self.runs += 1
        atomic_save_image(image.detach().clamp(0, 1).cpu(), self.folder / f"{key}.png")
        atomic_write_text(curve_csv(history), self.folder / f"{key}.csv")  # last: a curve always has its image
