"""What the photos a model learns from cost: each candidate (universal decoders through AdaIN, or a network holding
the five paintings by name), each painting, on photos it never saw, scored by the perceptual loss the networks
train with (Gram style loss / the photo's own: 1 = no nearer the painting than the photo, lower is better;
content loss against the photo).

    python scripts/photos_cost.py --decoders shipped=checkpoints/adain/last.ckpt \
        bsds500=checkpoints/adain_bsds500/last.ckpt --photos BSDS500/images/val --limit 5 --size 256
    python scripts/photos_cost.py --networks shipped=checkpoints/five-paintings/last.ckpt \
        bsds500=checkpoints/five-paintings-bsds500/last.ckpt --photos BSDS500/images/val --limit 5 --size 256
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from PIL import Image

from stylenet.data.images import is_image_path, load_image, pil_to_tensor
from stylenet.inference.open import open_stylizer
from stylenet.perceptual.loss import build_perceptual_loss

PAINTINGS = Path(__file__).resolve().parents[1] / "assets" / "styles"
LOSS = dict(network="vgg19", weights="embedded", content_layers=("relu2_2",),
            style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"), style_layer_weights=(1.0, 1.0, 1.0, 0.25),
            normalize=True, content_weight=1.0, style_weight=1.0, tv_weight=0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decoders", nargs="+", default=[], help="NAME=CHECKPOINT ... (universal decoders, through AdaIN)")
    ap.add_argument("--networks", nargs="+", default=[], help="NAME=CHECKPOINT ... (networks holding the paintings by name)")
    ap.add_argument("--photos", required=True)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    torch.manual_seed(0)
    photos = sorted(p for p in Path(a.photos).iterdir() if is_image_path(p))[: a.limit]
    loss = build_perceptual_loss(**LOSS).eval()
    print("| painting | candidate | style vs photo: median (range) | content: median |\n|---|---|---|---|")
    for painting in sorted(PAINTINGS.glob("*.jpg")):
        loss.set_style(load_image(painting, size=2 * a.size))
        candidates = [(*d.split("=", 1), True) for d in a.decoders] + [(*d.split("=", 1), False) for d in a.networks]
        for name, ckpt, universal in candidates:
            s = (open_stylizer(ckpt, style=str(painting), device="cpu", transform="adain") if universal
                 else open_stylizer(ckpt, style=painting.stem, device="cpu", backend="torch"))
            ratios, contents = [], []
            for p in photos:
                photo = Image.open(p).convert("RGB")
                out = pil_to_tensor(s.stylize(photo, size=a.size))
                x = pil_to_tensor(photo.resize((out.shape[-1], out.shape[-2]), Image.Resampling.LANCZOS))
                with torch.no_grad():
                    got, own = loss(out, x), loss(x, x)
                ratios.append(float(got["style"] / own["style"]))
                contents.append(float(got["content"]))
            print(f"| {painting.stem} | {name} | {statistics.median(ratios):.3f} ({min(ratios):.3f} – {max(ratios):.3f}) | "
                  f"{statistics.median(contents):.3f} |")


if __name__ == "__main__":
    main()
