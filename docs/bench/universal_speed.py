"""Stylisation time of universal style transfer (docs/universal.md, "Stylisation time"): WCT over every level the
checkpoint holds and AdaIN at relu4_1, on a 4:3 photo at each long side, one painting prepared once (as infer.py
does for a folder), median of the runs after a warm-up, timed with stylenet.runtime.measure (which synchronises a GPU):

    python docs/bench/universal_speed.py --ckpt checkpoints/universal/last.ckpt [--style assets/styles/wave.jpg]
        [--photo assets/sample/chelsea.jpg] [--sizes 512 1024] [--runs 3] [--device auto] [--threads N]

Prints one markdown row per size. Not a test: speed is measured in benchmarks, not asserted.
"""

from __future__ import annotations

import argparse
import os

import torch
from PIL import Image

from stylenet.data.images import open_image, pil_to_tensor
from stylenet.runtime import measure, set_threads
from stylenet.universal.stylizer import ADAIN_LEVEL, UniversalStylizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--style", default="assets/styles/wave.jpg")
    ap.add_argument("--style-size", type=int, default=1024)
    ap.add_argument("--photo", default="assets/sample/chelsea.jpg")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    set_threads(args.threads)
    u = UniversalStylizer.from_checkpoint(args.ckpt, device=args.device)
    styles = u.prepare_styles(args.style, style_size=args.style_size)
    photo = open_image(args.photo)
    transforms = ["wct"] + (["adain"] if ADAIN_LEVEL in u.levels else [])
    print(f"device {u.device}, torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, levels {sorted(u.levels)}, "
          f"{args.style} at {args.style_size} px, median of {args.runs} after {args.warmup} warm-up")
    print("| size | " + " | ".join(f"{t} s" for t in transforms) + " |")
    print("|---|" + "---|" * len(transforms))
    for side in args.sizes:
        w, h = side, side * 3 // 4  # a 4:3 photo with this long side
        x = pil_to_tensor(photo.resize((w, h), Image.Resampling.LANCZOS)).unsqueeze(0).to(u.device)
        cells = []
        for t in transforms:
            timing = measure(lambda t=t: u.stylize_tensor(x, styles, transform=t), runs=args.runs, warmup=args.warmup,
                             device=u.device, track_memory=False)
            cells.append(f"{timing.median_ms / 1000:.2f}")
        print(f"| {w}×{h} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
