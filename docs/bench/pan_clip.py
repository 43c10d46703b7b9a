"""A clip with known motion for the flicker score (docs/video.md): a window panning across one photo.

    python docs/bench/pan_clip.py BSDS500/val/101085.jpg pan.mp4            # 40 frames, 256×192, 3 px a frame
    python -m stylenet flicker ckpts=[checkpoints/wave/last.ckpt,checkpoints/wave_video/last.ckpt] video=pan.mp4 size=null

Every frame is the same photo moved a whole number of pixels, so the flow is exact and nothing is occluded
but the strip that enters: the warping error of a network on it is flicker the network adds, not motion the
flow misses. The photo is read at its own size; the window must fit ``frames × step`` pixels of travel.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

from stylenet.inference.video import write_frames


def pan_frames(photo: Image.Image, width: int, height: int, frames: int, step: int) -> list[np.ndarray]:
    rgb = np.asarray(photo.convert("RGB"))
    travel = (frames - 1) * step
    if rgb.shape[0] < height or rgb.shape[1] < width + travel:
        sys.exit(f"the photo is {rgb.shape[1]}×{rgb.shape[0]}; a {width}×{height} window moving {travel} px needs "
                 f"{width + travel}×{height}: use a bigger photo, or fewer --frames or a smaller --step")
    top = (rgb.shape[0] - height) // 2
    return [np.ascontiguousarray(rgb[top:top + height, i * step:i * step + width]) for i in range(frames)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photo")
    p.add_argument("out", help="an .mp4 path (H.264, crf 18, written atomically)")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--step", type=int, default=3, help="pixels the window moves right each frame")
    p.add_argument("--size", type=int, nargs=2, default=(256, 192), metavar=("W", "H"))
    p.add_argument("--fps", type=float, default=25.0)
    a = p.parse_args()
    if not (1 <= a.frames <= 10_000 and 0 <= a.step <= 1000 and 16 <= min(a.size) and max(a.size) <= 4096):
        sys.exit("--frames 1..10000, --step 0..1000 and --size 16..4096 px")
    write_frames(pan_frames(Image.open(a.photo), *a.size, a.frames, a.step), a.out, a.fps)
    print(f"{a.out}: {a.frames} frames of {a.size[0]}×{a.size[1]}, {a.step} px a frame")


if __name__ == "__main__":
    main()
