"""What a minute of adaptation buys (infer.py --adapt, stylenet/inference/adapt.py): the shipped five-paintings
network learns each of its own paintings again as a new row that starts WITHOUT that painting's trained row
(from the other four rows only), and is scored against the row the network trained for it, on photos it never
saw, with scripts/photos_cost.py's loss (Gram style loss / the photo's own: 1 = no nearer the painting than the
photo, lower is better; content loss against the photo).

    python scripts/adapt_cost.py --photos BSDS500/images/val --limit 5 --size 256 --seconds 60

Candidates per painting: ``trained`` (the network's own row), ``AdaIN`` (the shipped decoder: what
``--style painting.jpg`` gives without ``--adapt``), ``start`` (the mean of the other four rows,
untrained: what the minute starts from with init=mean), and ``adapted <init>`` for each ``--inits`` (``mean``:
from the other four rows' mean; ``auto``: from whichever of the other four rows or their mean paints closest
on the first batch). The shared convolutions did see every painting in training: a true leave-one-out needs a
four-style network trained without it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from stylenet import zoo
from stylenet.data.images import is_image_path, load_image, pil_to_tensor
from stylenet.inference.adapt import DEFAULT_LR, adapt_style, conditional_norms, with_new_row
from stylenet.inference.open import open_stylizer
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import load_network
from stylenet.perceptual.loss import build_perceptual_loss

PAINTINGS = Path(__file__).resolve().parents[1] / "assets" / "styles"
LOSS = dict(network="vgg19", weights="embedded", content_layers=("relu2_2",),
            style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"), style_layer_weights=(1.0, 1.0, 1.0, 0.25),
            normalize=True, content_weight=1.0, style_weight=1.0, tv_weight=0.0)


def score(stylizer, photos: list[Path], loss, size: int) -> tuple[list[float], list[float]]:
    ratios, contents = [], []
    for p in photos:
        photo = Image.open(p).convert("RGB")
        out = pil_to_tensor(stylizer.stylize(photo, size=size)).unsqueeze(0)
        x = pil_to_tensor(photo.resize((out.shape[-1], out.shape[-2]), Image.Resampling.LANCZOS)).unsqueeze(0)
        with torch.no_grad():
            got, own = loss(out, x), loss(x, x)
        ratios.append(float(got["style"] / own["style"]))
        contents.append(float(got["content"]))
    return ratios, contents


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", required=True)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--inits", default="mean,auto")
    ap.add_argument("--paintings", default=None, help="comma-separated style names (default: all five)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--lr", type=float, default=DEFAULT_LR)
    ap.add_argument("--no-adain", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    photos = sorted(p for p in Path(a.photos).iterdir() if is_image_path(p))[: a.limit]
    net, meta = load_network(zoo.folder("five-paintings"))
    names = [s["name"] for s in meta["styles"]]
    loss = build_perceptual_loss(**LOSS).eval()
    print(f"threads {torch.get_num_threads()}, lr {a.lr:g}, photos {[p.name for p in photos]}, {a.seconds:g} s per adaptation", flush=True)
    print("| painting | candidate | steps | style vs photo: median (range) | content: median |\n|---|---|---|---|---|", flush=True)
    for name in a.paintings.split(",") if a.paintings else names:
        painting = PAINTINGS / f"{name}.jpg"
        loss.set_style(load_image(painting, size=2 * a.size))
        others = [n for n in names if n != name]
        idx = [names.index(n) for n in others]
        start = with_new_row(net, {k: (m.scale[idx].mean(0), m.shift[idx].mean(0)) for k, m in conditional_norms(net).items()})
        start_meta = {**meta, "arch": {**meta["arch"], "num_styles": 6}, "styles": [*meta["styles"], {"name": "start"}]}
        rows = [("trained", "-", Stylizer(net, meta, style=name, device="cpu", backend="torch")),
                ("start: mean of the other four", "0", Stylizer(start, start_meta, style="start", device="cpu", backend="torch"))]
        if not a.no_adain:
            rows.insert(1, ("AdaIN decoder (no --adapt)", "-", open_stylizer("adain", style=str(painting), device="cpu", transform="adain")))
        for init in a.inits.split(","):
            t = time.perf_counter()
            new = adapt_style(net, meta, painting, seconds=a.seconds, init=init, init_from=others, lr=a.lr,
                              cache=False)
            label = f"adapted, init={init}" + (f" (from {new.init})" if init == "auto" else "")
            rows.append((label, f"{new.steps} in {time.perf_counter() - t:.1f} s",
                         Stylizer(new.net, new.meta, style=new.style, device="cpu", backend="torch")))
        for label, steps, stylizer in rows:
            ratios, contents = score(stylizer, photos, loss, a.size)
            print(f"| {name} | {label} | {steps} | {statistics.median(ratios):.3f} ({min(ratios):.3f} – {max(ratios):.3f}) | "
                  f"{statistics.median(contents):.3f} |", flush=True)


if __name__ == "__main__":
    main()
