"""The stroke-side table (stylenet/teacher/strokes.py) for some styles of a network, on any photos and sides: what
``python -m stylenet strokes`` measures for every style, here to check a choice on held-out photos at a size.

    python docs/bench/stroke_sides.py --ckpt five-paintings --photos BSDS500/val --limit 4 --size 1024 \
        --sides 1024 768 --styles wave          # docs/inference.md, "Each style's stroke side"

Prints the medians over the photos of the training loss, the style loss as a fraction of the photo's own and the
content loss, per working side, with the painting at the training run's scale relative to the photo.
"""

from __future__ import annotations

import argparse
import time

from stylenet.inference.stylizer import Stylizer
from stylenet.teacher.strokes import SIDES, format_table, load_photos, measure_stroke_sides
from stylenet.zoo import resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint, pretrained folder or shipped name")
    parser.add_argument("--photos", required=True, help="a folder of photos")
    parser.add_argument("--size", type=int, default=1024, help="the photos' long side (default 1024)")
    parser.add_argument("--sides", type=int, nargs="+", default=list(SIDES))
    parser.add_argument("--styles", nargs="*", default=None, help="a multi-style network's styles (default all)")
    parser.add_argument("--limit", type=int, default=None)
    a = parser.parse_args()
    stylizer = Stylizer.from_checkpoint(resolve(a.ckpt), device="cpu", half=False, backend="torch")
    photos = load_photos(a.photos, a.size, a.limit, say=print)
    t0 = time.perf_counter()
    scores = measure_stroke_sides(stylizer, photos, a.sides, say=print, styles=a.styles)
    print(f"\n{len(photos)} photos at {a.size} px ({time.perf_counter() - t0:.0f} s)\n\n{format_table(scores)}", flush=True)


if __name__ == "__main__":
    main()
