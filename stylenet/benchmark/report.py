"""The bench's markdown report: one table per section, with the machine, load and command."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

from stylenet.benchmark.latency import render_latency
from stylenet.benchmark.measure import INFER_BACKENDS, PAPER_STEPS
from stylenet.benchmark.universal import render_universal
from stylenet.benchmark.video import render_video
from stylenet.runtime import Timing
from stylenet.training.spec import RunSpec

# ---------------------------------------------------------------------------------------------- report


def _mem(t: Timing) -> str:
    if t.peak_cuda_mb is not None:
        return f"{t.peak_cuda_mb:,.0f} MB CUDA"
    if t.peak_rss_mb is None:
        return "—"
    return f"{t.peak_rss_mb:,.0f} MB RSS" + (" (process peak)" if t.peak_rss_is_process_lifetime else "")


def _ms(t: Timing) -> str:
    return f"{t.median_ms:,.1f} ({t.min_ms:,.1f}–{t.max_ms:,.1f})"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def config_summary(cfg: DictConfig) -> str:
    m, d, t = cfg.model, cfg.data, cfg.trainer
    spec = RunSpec.from_cfg(cfg)
    styles = f" × {spec.num_styles} styles ({', '.join(spec.style_names)})" if spec.styles else ""
    return (f"model {m.base_channels}-channel/{m.num_residual_blocks}-block{styles}, {d.image_size} px, batch {d.batch_size}, "
            f"precision {t.precision}, channels_last {cfg.module.channels_last}, compile {cfg.module.compile}, "
            f"compile_loss {cfg.module.get('compile_loss', False)}, single_pass {cfg.loss.single_pass}, cudnn benchmark "
            f"{t.benchmark}, data {d.source} ({'auto' if d.num_workers is None else d.num_workers} workers), VGG weights {cfg.loss.weights}")


def render(meta: dict[str, Any], results: dict[str, Any]) -> str:
    lines = [f"### stylenet bench — {meta['device']}", "",
             f"`{meta['command']}`", "",
             f"{meta['date']} · torch {torch.__version__} · load average {meta['load_before']} before, "
             f"{meta['load_after']} after" + (f" · process RSS {meta['rss_start']:,.0f} MB before any section (python, torch, "
             "hydra: under every RSS peak below)" if meta.get("rss_start") else ""), ""]
    # The latency and video sections build their own networks (bench.latency_models): the base config is
    # what the others run, and said only for them.
    if any(results.get(k) for k in ("infer", "infer_skipped", "data", "train", "step")):
        lines += [f"Base config: {meta['summary']}.", ""]
    for key, title in (("train", "Training, Lightning fit loop on the real data pipeline"),
                       ("step", "Training step alone (hand loop, one batch on the device, no data)")):
        rows = results.get(key)
        if not rows:
            continue
        ref, ref_cpu = rows[0]["timing"].median_ms, rows[0]["cpu_ms"]
        lines += [f"{title}; {meta['warmup']} warm-up + {meta['steps']} timed steps:", "",
                  "| variant | overrides | ms/step, median (min–max) | steps/s | images/s | speed-up | "
                  f"{PAPER_STEPS // 1000}k steps | peak memory | CPU ms/step (speed-up) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            t = r["timing"]
            sps = 1000.0 / t.median_ms
            cpu = f"{r['cpu_ms']:,.0f} ({ref_cpu / r['cpu_ms']:.2f}×)" if r["cpu_ms"] > 0 else "—"
            lines.append(f"| {r['variant']} | {' '.join(r['overrides']) or '—'} | {_ms(t)} | {sps:.2f} | "
                         f"{sps * r['batch_size']:.1f} | {ref / t.median_ms:.2f}× | {_duration(PAPER_STEPS * t.median_ms / 1000)} | "
                         f"{_mem(t)} | {cpu} |")
        lines += ["", "CPU ms/step: this process's CPU time (all its threads, not the data workers), median; on a "
                  "shared machine it moves less than wall time. On a GPU it is the host's share of the step.", ""]
    if results.get("infer") or results.get("infer_skipped"):
        lines += [f"Inference, batch 1, square image, {meta['infer_warmup']} warm-up + {meta['infer_runs']} timed runs:", "",
                  "| backend | size | ms, median (min–max) | images/s | peak memory |", "|---|---|---|---|---|"]
        for r in results["infer"]:
            t = r["timing"]
            lines.append(f"| {r['backend']} | {r['size']}×{r['size']} | {_ms(t)} | {1000.0 / t.median_ms:.2f} | {_mem(t)} |")
        lines += [""] + [f"- {name}: {INFER_BACKENDS[name][1]}" for name in dict.fromkeys(r["backend"] for r in results["infer"])]
        lines += [f"- {name}: skipped, {why}" for name, why in results.get("infer_skipped", {}).items()] + [""]
    if results.get("latency"):
        lines += render_latency(results["latency"], results.get("latency_skipped", {}))
    if results.get("video"):
        lines += render_video(results["video"], meta.get("video_clip", ""))
    if results.get("universal"):
        lines += render_universal(results["universal"])
    d = results.get("data")
    if d:
        t = d["timing"]
        lines += [f"Data loading alone ({d['source']}, {d['image_size']} px, batch {d['batch_size']}, {d['workers']} workers, "
                  f"pin_memory {d['pin_memory']}):", "",
                  "| batches | ms/batch, median (min–max) | images/s | training needs | headroom |", "|---|---|---|---|---|"]
        need = max((1000.0 / r["timing"].median_ms * r["batch_size"] for r in results.get("train") or []), default=None)
        need_s = f"{need:.1f} img/s" if need else "—"
        headroom = f"{d['images_per_s'] / need:.1f}×" if need else "—"
        lines += [f"| {t.runs} | {_ms(t)} | {d['images_per_s']:.1f} | {need_s} | {headroom} |", ""]
    return "\n".join(lines)
