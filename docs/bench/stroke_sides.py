"""The stroke-side table (stylenet/teacher/strokes.py) for some styles of a network, on any photos and sides: what
``python -m stylenet strokes`` measures for every style, here to check a choice on held-out photos at a size.

    python docs/bench/stroke_sides.py --ckpt five-paintings --photos BSDS500/val --limit 4 --size 2048 \
        --sides 2048 768 --styles wave          # docs/inference.md, "Each style's stroke side"

Prints the medians over the photos of the training loss, the style loss as a fraction of the photo's own and the
content loss, per working side, with the painting at the training run's scale relative to the photo.
"""

from __future__ import annotations

import argparse
import time

from stylenet.inference.stylizer import Stylizer
from stylenet.teacher.evaluate import painting_scale
from stylenet.teacher.strokes import DEFAULT_PAINTING_SCALE, format_table, load_photos, measure_style
from stylenet.zoo import resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint, pretrained folder or shipped name")
    parser.add_argument("--photos", required=True, help="a folder of photos")
    parser.add_argument("--size", type=int, default=1024, help="the photos' long side (default 1024)")
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 768, 512, 384, 256])
    parser.add_argument("--styles", nargs="*", default=None, help="a multi-style network's styles (default all)")
    parser.add_argument("--limit", type=int, default=None)
    a = parser.parse_args()
    stylizer = Stylizer.from_checkpoint(resolve(a.ckpt), device="cpu", half=False, backend="torch")
    meta = stylizer.meta
    photos = load_photos(a.photos, a.size, a.limit, say=print)
    entries = meta.get("styles") or [meta["style"]]
    ratio = painting_scale({**meta, "style": entries[0]}, "train") or DEFAULT_PAINTING_SCALE
    for entry in entries:
        if a.styles and entry["name"] not in a.styles:
            continue
        if meta.get("styles"):
            stylizer.set_style(entry["name"])
        t0 = time.perf_counter()
        rows = measure_style(stylizer, meta, entry, photos, a.sides, ratio)
        print(f"\n{entry['name']}: {len(photos)} photos at {a.size} px, the painting at {ratio:g}x "
              f"({time.perf_counter() - t0:.0f} s)\n\n{format_table({entry['name']: rows})}", flush=True)


if __name__ == "__main__":
    main()
