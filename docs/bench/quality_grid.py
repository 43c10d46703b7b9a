"""One contact sheet from a `python -m stylenet quality` folder: a row per painting, the photo then every
candidate's output for it, at one size (what docs/universal.md's "A decoder trained to paint" looked at):

    python docs/bench/quality_grid.py logs/quality-universal 512 101087 PHOTOS_DIR out.png [--height 256]

Each evaluation writes a figure per photo, <out>/<painting>/<size>/<candidate>/<photo stem>.png: the photo, the
candidate's output, the teacher and the painting side by side, at the photo's height (sizes of 256 px and more);
the output is cut from it. The photo itself comes from PHOTOS_DIR. Candidates are sorted by name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from stylenet.data.images import load_image, side_by_side


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("quality_dir", type=Path)
    ap.add_argument("size")
    ap.add_argument("photo", help="the photo's file stem, e.g. 101087")
    ap.add_argument("photos", type=Path, help="the folder of the photos that were scored")
    ap.add_argument("out", type=Path)
    ap.add_argument("--height", type=int, default=256)
    args = ap.parse_args()
    photo = next(p for p in args.photos.iterdir() if p.stem == args.photo)
    rows = []
    for painting in sorted(p for p in args.quality_dir.iterdir() if (p / args.size).is_dir()):
        cands = sorted(c for c in (painting / args.size).iterdir() if c.is_dir())
        outputs = [(c.name, c / f"{args.photo}.png") for c in cands if (c / f"{args.photo}.png").is_file()]
        shown = load_image(photo, size=int(args.size))
        h, w = shown.shape[-2:]
        panels = [shown] + [load_image(p)[..., :h, w + 4: 2 * w + 4] for _, p in outputs]  # side_by_side's 4 px gap
        rows.append(side_by_side(panels, [f"{painting.name}: photo"] + [n for n, _ in outputs], height=args.height))
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"{len(rows)} paintings → {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
