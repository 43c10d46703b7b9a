"""What the shipped models (stylenet/zoo) give: float16 storage against float32, a contact sheet, a big photo.

    python scripts/zoo_check.py --network checkpoints/five-paintings/last.ckpt --decoders checkpoints/adain/last.ckpt \
        --photos assets/sample --out docs/images/zoo

Writes <out>_sheet.jpg (and, with --big-out, the big photo through each model) (each photo in every shipped style at --size px: the five paintings of the network, then
AdaIN with each painting of assets/styles) and prints, per model, the largest and mean difference between the
float32 checkpoint's outputs and its float16 pretrained folder's, in 8-bit levels, and the time of one photo
upscaled to --big px (long side) through each model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from stylenet.data.images import is_image_path, pil_to_tensor, side_by_side
from stylenet.inference.open import open_stylizer
from stylenet.inference.save_pretrained import save_pretrained

STYLES = ("wave", "starry_night", "the_scream", "shipwreck", "udnie")
PAINTINGS = Path(__file__).resolve().parents[1] / "assets" / "styles"


def levels(a: Image.Image, b: Image.Image) -> tuple[int, float]:
    d = (pil_to_tensor(a) - pil_to_tensor(b)).abs() * 255
    return round(d.max().item()), d.mean().item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--network", required=True)
    ap.add_argument("--decoders", required=True)
    ap.add_argument("--photos", default="assets/sample")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--big", type=int, default=3000)
    ap.add_argument("--out", default="docs/images/zoo")
    ap.add_argument("--big-out", default=None, help="a folder for the two big outputs (several MB each: not in docs/)")
    a = ap.parse_args()
    torch.manual_seed(0)
    photos = sorted(p for p in Path(a.photos).iterdir() if is_image_path(p))
    images = [Image.open(p).convert("RGB") for p in photos]
    with tempfile.TemporaryDirectory() as tmp:
        half_net = save_pretrained(a.network, Path(tmp) / "net", half=True)
        half_dec = save_pretrained(a.decoders, Path(tmp) / "dec", half=True)
        rows, diffs = [], {"network": [], "adain": []}
        for name, im in zip((p.stem for p in photos), images):
            panels, labels = [pil_to_tensor(im.resize((round(im.width * a.size / max(im.size)), round(im.height * a.size / max(im.size)))))], [name]
            for style in STYLES:
                full = open_stylizer(a.network, style=style, device="cpu", backend="torch")
                half = open_stylizer(half_net, style=style, device="cpu", backend="torch")
                out = full.stylize(im, size=a.size)
                diffs["network"].append(levels(out, half.stylize(im, size=a.size)))
                panels.append(pil_to_tensor(out)); labels.append(style)
            for style in STYLES:
                painting = PAINTINGS / f"{style}.jpg"
                full = open_stylizer(a.decoders, style=str(painting), device="cpu", transform="adain")
                half = open_stylizer(half_dec, style=str(painting), device="cpu", transform="adain")
                out = full.stylize(im, size=a.size)
                diffs["adain"].append(levels(out, half.stylize(im, size=a.size)))
                panels.append(pil_to_tensor(out)); labels.append(f"adain {style}")
            rows.append(side_by_side(panels, labels, height=a.size // 2))
        sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
        y = 0
        for r in rows:
            sheet.paste(r, (0, y)); y += r.height
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(f"{a.out}_sheet.jpg", quality=88)
        for k, v in diffs.items():
            print(f"{k}: float16 vs float32 over {len(v)} outputs at {a.size} px: max {max(m for m, _ in v)} levels, "
                  f"mean {sum(x for _, x in v) / len(v):.3f} levels")
        big = images[0].resize((a.big, round(images[0].height * a.big / images[0].width)), Image.Resampling.LANCZOS)
        for label, s in (("network starry_night", open_stylizer(half_net, style="starry_night", device="cpu", backend="torch")),
                         ("adain starry_night", open_stylizer(half_dec, style=str(PAINTINGS / "starry_night.jpg"), device="cpu", transform="adain"))):
            t = time.perf_counter()
            out = s.stylize(big)
            print(f"{label}: {big.size[0]}x{big.size[1]} in {time.perf_counter() - t:.1f} s")
            if a.big_out:
                Path(a.big_out).mkdir(parents=True, exist_ok=True)
                out.save(Path(a.big_out) / f"zoo_big_{label.split()[0]}.jpg", quality=90)


if __name__ == "__main__":
    main()
