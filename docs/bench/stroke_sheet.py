"""A contact sheet to look at stroke scale: one photo at a given long side, stylised by a trained network at
several stroke scales (and, optionally, beside another tool's output), side by side with captions.

    python docs/bench/stroke_sheet.py --ckpt checkpoints/wave/last.ckpt --photo assets/sample/hubble_deep_field.jpg \\
        --size 3000 --scales 1 2 4 auto --out stroke_sheet.png [--crop 768] [--peer peer_output.png]
    python docs/bench/stroke_sheet.py --ckpt five-paintings --style wave --photo assets/sample/rocket.jpg --size 3000 ...
    python docs/bench/stroke_sheet.py --ckpt five-paintings --style wave starry_night the_scream shipwreck udnie \
        --photo assets/sample/rocket.jpg --size 3000 --scales 1 auto --out rocket_auto.jpg --height 240   # a row per style

``--crop N`` also writes ``<out stem>_crop.png``: the centre N×N pixels of every panel at full resolution, where
the strokes' size can be judged (a sheet of 3000 px panels shrunk to fit a screen hides them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image, ImageDraw

from stylenet.data.images import open_image, resize_long_side
from stylenet.inference.stylizer import Stylizer


def sheet(panels: list[tuple[str, Image.Image]], height: int) -> Image.Image:
    shrunk = [(label, im.resize((max(1, round(im.width * height / im.height)), height), Image.Resampling.LANCZOS)) for label, im in panels]
    canvas = Image.new("RGB", (sum(im.width for _, im in shrunk) + 4 * (len(shrunk) - 1), height + 18), "white")
    draw, x = ImageDraw.Draw(canvas), 0
    for label, im in shrunk:
        canvas.paste(im, (x, 0))
        draw.text((x + 3, height + 3), label, fill="black")
        x += im.width + 4
    return canvas


def stack(rows: list[Image.Image]) -> Image.Image:
    """Sheets one above the other."""
    canvas = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        canvas.paste(r, (0, y))
        y += r.height
    return canvas


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", required=True, help="a checkpoint, a pretrained folder or a shipped model's name")
    p.add_argument("--style", nargs="+", default=[None], help="a multi-style network's style(s) (five-paintings: wave, ...): "
                   "a row per style")
    p.add_argument("--photo", required=True)
    p.add_argument("--size", type=int, default=None, help="resize the photo to this long side first")
    p.add_argument("--scales", nargs="+", default=["1", "2", "auto"])
    p.add_argument("--peer", default=None, help="another tool's output for the same photo, shown last")
    p.add_argument("--out", required=True)
    p.add_argument("--height", type=int, default=400, help="panel height on the sheet")
    p.add_argument("--crop", type=int, default=0, help="also write the centre crop of every panel at full resolution")
    a = p.parse_args()
    photo = open_image(a.photo).convert("RGB")
    if a.size:
        photo = resize_long_side(photo, a.size)
    stylizer = Stylizer.from_pretrained(a.ckpt, device="cpu", backend="torch", style=a.style[0])
    rows, crops = [], []
    for style in a.style:
        if style is not None:
            stylizer.set_style(style)
        panels = [(f"photo {photo.width}x{photo.height}" + (f" / {style}" if style else ""), photo)]
        for s in a.scales:
            scale = s if s == "auto" else float(s)
            t0 = time.perf_counter()
            out = stylizer(photo, stroke_scale=scale)
            work = stylizer.working_size((photo.height, photo.width), scale)
            panels.append((f"stroke {s}: paints {work[1]}x{work[0]}, {time.perf_counter() - t0:.1f} s", out))
        if a.peer:
            panels.append(("peer", open_image(a.peer).convert("RGB").resize(photo.size, Image.Resampling.LANCZOS)))
        rows.append(sheet(panels, a.height))
        if a.crop:
            c = a.crop
            box = ((photo.width - c) // 2, (photo.height - c) // 2, (photo.width + c) // 2, (photo.height + c) // 2)
            crops.append(sheet([(label, im.crop(box)) for label, im in panels], min(c, 2 * a.height)))
    out = Path(a.out)
    stack(rows).save(out)
    if a.crop:
        stack(crops).save(out.with_name(f"{out.stem}_crop.png"))
    print(f"wrote {out}" + (f" and {out.stem}_crop.png" if a.crop else ""))


if __name__ == "__main__":
    main()
