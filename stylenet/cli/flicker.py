"""``python -m stylenet flicker``: the temporal warping error of one or more networks on a video
(conf/flicker.yaml; :mod:`stylenet.teacher.flicker`), next to their style and content losses.

Writes ``report.md`` and ``scores.csv`` (one row per network, and the input's own error as the floor the
flow allows) and ``side_by_side.mp4``: input | each network, frame by frame.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import torch
from omegaconf import OmegaConf
from PIL import Image

from stylenet.cli.entry import hydra_command
from stylenet.config import user_path
from stylenet.data.images import long_side_hw
from stylenet.errors import StylenetError
from stylenet.files import atomic_write_text, check_writable_dir
from stylenet.inference.mix import meta_for_style
from stylenet.inference.stylizer import Stylizer
from stylenet.inference.video import VideoError, read_frames, to_uint8_frames, write_frames
from stylenet.networks.checkpoint import load_network
from stylenet.runtime import resolve_device
from stylenet.teacher.evaluate import training_loss
from stylenet.teacher.flicker import frame_pairs, warping_error
from stylenet.training.checks import finite, whole


def _losses(meta, frames: list[np.ndarray], outputs: list[np.ndarray], device) -> dict[str, float]:
    """Mean content and style loss over the frames, with the network's own training loss."""
    loss, _, _, _ = training_loss(meta, device)
    terms: dict[str, list[float]] = {"content": [], "style": []}
    with torch.no_grad():
        for x, y in zip(frames, outputs):
            photo = torch.from_numpy(x).permute(2, 0, 1)[None].float().div(255).to(device)
            out = torch.from_numpy(y).permute(2, 0, 1)[None].float().div(255).to(device)
            t = loss(out, photo)
            for k in terms:
                terms[k].append(float(t[k]))
    return {k: float(np.mean(v)) for k, v in terms.items()}


# The frames are held in memory (a list of H×W×3 arrays, and each network's outputs): 500 frames at 1080p are
# 3 GB per column, so the long side and the count are bounded together with the batch.
MAX_FRAMES, MAX_SIZE, MAX_BATCH = 500, 2048, 64


def check_numbers(cfg) -> None:
    """Every number of conf/flicker.yaml in range, one line naming the key, before any file is read."""
    whole(cfg, "max_frames", 2, MAX_FRAMES, example=50)  # the error is between frames: two at least
    whole(cfg, "batch_size", 1, MAX_BATCH, example=4)
    if cfg.size is not None:
        whole(cfg, "size", 16, MAX_SIZE, example=480)
    finite(cfg, "start", 0, example=0, say="is not a number of seconds >= 0")


def run(cfg) -> int:
    if OmegaConf.is_missing(cfg, "ckpts") or not cfg.ckpts:
        raise StylenetError("give the network(s): python -m stylenet flicker ckpts=[a.ckpt,b.ckpt] video=clip.mp4")
    if OmegaConf.is_missing(cfg, "video") or not cfg.video:
        raise StylenetError("give the video: video=clip.mp4")
    ckpts = [user_path(c) for c in ([cfg.ckpts] if isinstance(cfg.ckpts, str) else list(cfg.ckpts))]
    check_numbers(cfg)
    video = user_path(cfg.video)
    nets = [load_network(c) for c in ckpts]  # every checkpoint checked before any work
    style_name = str(cfg.style_name) if cfg.get("style_name") else None
    # a multi-style network paints the style the run names, scored with that style's own training loss
    loss_metas = [meta_for_style(meta, style_name, str(path)) for path, (_, meta) in zip(ckpts, nets)]
    if style_name and not any(meta.get("styles") for _, meta in nets):
        raise StylenetError("style_name= chooses a style of a multi-style network; none of the ckpts holds several")
    out_dir = user_path(cfg.out) if cfg.out else user_path(cfg.paths.logs) / "flicker" / video.stem
    check_writable_dir(out_dir, "flicker folder (out=)")
    device = resolve_device(str(cfg.device))
    frames, rate = read_frames(video, start=float(cfg.start), max_frames=int(cfg.max_frames))
    if len(frames) < 2:
        raise VideoError(f"{video}: fewer than 2 frames to compare")
    if cfg.size is not None:
        hw = long_side_hw(frames[0].shape[:2], int(cfg.size))
        frames = [np.array(Image.fromarray(f).resize(hw[::-1], Image.Resampling.LANCZOS)) for f in frames]
    pairs = frame_pairs(frames)
    floor, _ = warping_error(frames, pairs)
    rows = [{"network": "input (no stylisation)", "warping_error": floor, "content": float("nan"), "style": float("nan")}]
    columns = [frames]
    for path, (net, meta), loss_meta in zip(ckpts, nets, loss_metas):
        multi = bool(meta.get("styles"))
        stylizer = Stylizer(net, meta, device=device, backend=str(cfg.backend), style=style_name if multi else None)
        outputs = []
        for i in range(0, len(frames), int(cfg.batch_size)):
            x = torch.from_numpy(np.stack(frames[i:i + int(cfg.batch_size)])).permute(0, 3, 1, 2)
            y = stylizer.stylize_tensor(x, stroke_scale=1)  # the network's own flicker, at the clip's size
            outputs += list(to_uint8_frames(y))
        err, _ = warping_error(outputs, pairs)
        rows.append({"network": f"{path} ({style_name})" if multi else str(path), "warping_error": err, **_losses(loss_meta, frames, outputs, device)})
        columns.append(outputs)
        print(f"{path}: warping error {err:.5f} (input {floor:.5f}), content {rows[-1]['content']:.4g}, style {rows[-1]['style']:.4g}",
              flush=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(buf.getvalue(), out_dir / "scores.csv")
    h, w = frames[0].shape[:2]
    lines = [f"# Flicker: {video.name}", "",
             f"{len(frames)} frames from {float(cfg.start):g} s at {w}x{h}; flow: OpenCV DIS (medium) on the input frames, "
             "occlusions left out by the forward-backward check (Ruder et al. 2016). Warping error: Lai et al. (2018), "
             "mean squared RGB difference in [0, 1] between each stylised frame and the previous one warped along the flow.", "",
             "| network | warping error | content | style |", "|---|---|---|---|"]
    fmt = lambda v: "—" if np.isnan(v) else f"{v:.4g}"  # noqa: E731  (the input has no losses of its own)
    lines += [f"| {r['network']} | {r['warping_error']:.5f} | {fmt(r['content'])} | {fmt(r['style'])} |" for r in rows]
    atomic_write_text("\n".join(lines) + "\n", out_dir / "report.md")
    write_frames([np.concatenate(row, axis=1) for row in zip(*columns)], out_dir / "side_by_side.mp4", float(rate))
    print(f"wrote {out_dir}/report.md and side_by_side.mp4 (input | {' | '.join(c.stem for c in ckpts)})")
    return 0


def main(argv: list[str] | None = None) -> None:
    hydra_command("flicker", run, argv)


if __name__ == "__main__":
    main()
