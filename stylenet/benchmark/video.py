"""The bench's ``video`` section: frames per second of :func:`stylenet.inference.video.stylize_video` on a clip.

Decode, stylise and encode together, as ``infer.py film.mp4`` runs them (onnxruntime on a CPU, batches of
``bench.video_batch`` frames), for each ``bench.latency_models`` network
(untrained: speed does not depend on the weights) at each ``bench.video_sizes`` long side. The first
``bench.video_warmup`` frames run once first (session and encoder set-up); then ``bench.video_frames`` frames
are timed, ``bench.video_rounds`` times, interleaved across the networks, and the median is reported.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from stylenet.benchmark.latency import LatencyError, bench_threads, check_sides
from stylenet.config import instantiate


def bench_video(cfg: DictConfig, models: Mapping[str, DictConfig]) -> list[dict[str, Any]]:
    from stylenet.inference.stylizer import Stylizer
    from stylenet.inference.video import stylize_video

    b = cfg.bench
    clip = b.get("video_clip")
    if not clip:
        raise LatencyError("the video section times a real clip: give one with bench.video_clip=PATH (e.g. a 720p MP4)")
    clip = Path(str(clip)).expanduser()
    if not clip.is_file():
        raise LatencyError(f"bench.video_clip={clip}: no such file")
    sizes = [int(s) for s in b.video_sizes]
    check_sides("video_sizes", sizes)
    frames, rounds, batch = int(b.video_frames), int(b.video_rounds), int(b.video_batch)
    if min(frames, rounds, batch) < 1:
        raise LatencyError("bench.video_frames, bench.video_rounds and bench.video_batch must each be at least 1")
    threads = bench_threads(b)
    stylizers = {}
    for name, model_cfg in models.items():
        torch.manual_seed(int(cfg.seed))
        net = instantiate(model_cfg, "model").eval().requires_grad_(False)
        stylizers[name] = Stylizer(net, device="cpu", backend="auto", threads=threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        for size in sizes:
            fps: dict[str, list[float]] = {name: [] for name in stylizers}
            for name, st in stylizers.items():  # warm-up
                stylize_video(st, clip, out, max_frames=max(1, int(b.video_warmup)), size=size, batch_size=batch, progress=False)
            shape = None
            for _ in range(rounds):
                for name, st in stylizers.items():
                    r = stylize_video(st, clip, out, max_frames=frames, size=size, batch_size=batch, progress=False)
                    fps[name].append(r.frames / r.seconds)
                    shape = (r.width, r.height)
            for name, values in fps.items():
                rows.append({"size": size, "shape": shape, "model": name, "backend": stylizers[name].backend,
                             "fps": statistics.median(values), "fps_min": min(values), "fps_max": max(values),
                             "frames": frames, "rounds": rounds, "batch": batch})
    return rows


def render_video(rows: list[dict[str, Any]], clip: str) -> list[str]:
    if not rows:
        return []
    r0 = rows[0]
    lines = [f"Video, `{clip}`: {r0['frames']} frames decoded, stylised (batch {r0['batch']}) and encoded (H.264), "
             f"{r0['rounds']} interleaved rounds after a warm-up:", "",
             "| model | backend | frame size | frames/s, median (min–max) |", "|---|---|---|---|"]
    for r in rows:
        w, h = r["shape"]
        lines.append(f"| {r['model']} | {r['backend']} | {w}×{h} | {r['fps']:.2f} ({r['fps_min']:.2f}–{r['fps_max']:.2f}) |")
    return lines + [""]
