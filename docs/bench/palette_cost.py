"""What ``--palette`` adds to the AdaIN decoder's time: 1024×768, 2 threads, medians of 3 interleaved rounds.

    python docs/bench/palette_cost.py [--ckpt stylenet/zoo/adain] [--painting assets/styles/the_scream.jpg]

docs/universal.md, "The painting's palette, and EFDM". Run it alone: on 2 cores anything beside it moves the times.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from stylenet.universal.stylizer import UniversalStylizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="stylenet/zoo/adain")
    p.add_argument("--painting", default="assets/styles/the_scream.jpg")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(2)
    u = UniversalStylizer.from_checkpoint(args.ckpt)
    styles = u.prepare_styles([args.painting])  # encoded once, as infer.py does for every photo
    x = torch.rand(1, 3, 768, 1024, generator=torch.Generator().manual_seed(0))
    times: dict[str | None, list[float]] = {}
    for _ in range(args.rounds):
        for mode in (None, "after", "both"):
            t = time.perf_counter()
            u.stylize_tensor(x, styles, transform="adain", palette=mode)
            times.setdefault(mode, []).append(time.perf_counter() - t)
    for mode, v in times.items():
        print(f"palette {mode or 'none'}: {statistics.median(v):.2f} s")


if __name__ == "__main__":
    main()
