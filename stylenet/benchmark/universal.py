"""The bench's ``universal`` section: seconds per photo of universal style transfer (any painting), per backend.

``bench.universal_ckpt`` (default the shipped ``adain``; a list compares several decoders in the same rounds) stylises
one 4:3 photo per ``bench.universal_sizes``
long side with each ``bench.universal_transforms`` entry, on each ``bench.universal_backends`` runtime
(:func:`stylenet.inference.universal_onnx.use_backend`), as ``infer.py --style`` runs it: the painting prepared
once (``bench.universal_style``, at 1024 px; default a shipped calibration photo, since its content does not change the
time), the photo padded, encoded, transformed and decoded, the palette matched after. Each contender runs once
first (graph export, int8 calibration on that painting), then ``bench.universal_rounds`` interleaved rounds; the
median is reported with the speed-up against the same decoders in PyTorch.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig

from stylenet import zoo
from stylenet.benchmark.latency import LatencyError, bench_threads, interleaved, photo_shape, sizes_and_rounds
from stylenet.config import user_path
from stylenet.inference.backends import RUNTIMES
from stylenet.inference.quantize import CALIBRATION
from stylenet.inference.universal_onnx import use_backend
from stylenet.universal.stylizer import UniversalStylizer
from stylenet.universal.transforms import TRANSFORMS

MAX_CKPTS = 8  # decoders compared in one run: each holds its sessions for every backend


def bench_universal(cfg: DictConfig) -> list[dict[str, Any]]:
    b = cfg.bench
    sizes, rounds = sizes_and_rounds(b, "universal")
    backends = [str(x) for x in b.universal_backends]
    transforms = [str(t) for t in b.universal_transforms]
    bad = [x for x in backends if x not in RUNTIMES] + [t for t in transforms if t not in TRANSFORMS]
    if bad or not backends or not transforms:
        raise LatencyError(f"bench.universal_backends {backends} / universal_transforms {transforms}: backends from "
                           f"{', '.join(RUNTIMES)} and transforms from {', '.join(TRANSFORMS)}, at least one each")
    names = b.universal_ckpt if isinstance(b.universal_ckpt, (list, ListConfig)) else [b.universal_ckpt]
    if not names or len(names) > MAX_CKPTS:
        raise LatencyError(f"bench.universal_ckpt: give 1 to {MAX_CKPTS} universal checkpoints or shipped names, e.g. [adain,checkpoints/universal_adain_half/last.ckpt]")
    paths = {str(n): zoo.resolve(str(n)) for n in names}
    painting = user_path(str(b.universal_style)) if b.get("universal_style") else sorted(CALIBRATION.glob("*.jpg"))[0]
    threads = bench_threads(b)
    stylizers = {(c, x): use_backend(UniversalStylizer.from_checkpoint(p, device="cpu"), x, threads) for c, p in paths.items() for x in backends}
    styles = {key: u.prepare_styles(painting, style_size=1024) for key, u in stylizers.items()}
    rows = []
    for size in sizes:
        h, w = photo_shape(size)
        photo = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(int(cfg.seed)))
        runs = {(c, t, x): (lambda c=c, t=t, x=x: stylizers[c, x].stylize_tensor(photo, styles[c, x], transform=t, palette="after"))
                for c in paths for t in transforms for x in backends}
        times = interleaved(runs, rounds)  # the warm-up call of each exports its graphs and calibrates int8
        for (c, t, x), ts in times.items():
            ref = times.get((c, t, "torch"))
            rows.append({"size": size, "shape": (h, w), "transform": t, "backend": x, "median_s": statistics.median(ts),
                         "min_s": min(ts), "max_s": max(ts), "rounds": rounds, "painting": str(b.get("universal_style") or painting), "ckpt": c,
                         "vs_torch": statistics.median(ref) / statistics.median(ts) if ref else None})
    return rows


def render_universal(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    r0 = rows[0]
    ckpts = list(dict.fromkeys(r["ckpt"] for r in rows))
    lines = [f"Universal style transfer, {', '.join(f'`{c}`' for c in ckpts)}, the painting `{r0['painting']}` at 1024 px prepared "
             f"once, palette after, {r0['rounds']} interleaved rounds after a warm-up run each:", "",
             "| photo | decoders | transform | backend | s, median (min–max) | speed-up vs torch |", "|---|---|---|---|---|---|"]
    for r in rows:
        h, w = r["shape"]
        vs = f"{r['vs_torch']:.2f}×" if r["vs_torch"] is not None else "—"
        lines.append(f"| {w}×{h} | {r['ckpt']} | {r['transform']} | {r['backend']} | {r['median_s']:.2f} ({r['min_s']:.2f}–{r['max_s']:.2f}) | {vs} |")
    return lines + [""]
