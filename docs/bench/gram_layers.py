"""Where a network's style loss comes from: each style layer's relative Gram error, and its Gram energy
against the painting's, for the photo, a flat image (the teacher's start) and the network at stroke scales.

    python docs/bench/gram_layers.py --ckpt checkpoints/udnie/last.ckpt --photo BSDS500/val/101087.jpg \
        --size 512 --scales 1 2          # docs/quality.md, "Udnie at 512 px"

The painting is read at the training run's scale relative to the photo (the protocol's ``style_scale=train``).
A layer's relative error is ``MSE(G, G_painting) / mean(G_painting²)`` (what the loss sums, before the layer and
style weights); energy is ``rms(G) / rms(G_painting)``. For an image whose Gram is k times the painting's
the error is (k − 1)², so a flat image (k ≈ 0) scores 1 a layer and anything with more than twice the
painting's energy scores worse than it.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from stylenet.data.images import load_image
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import META_KEY, read_checkpoint
from stylenet.perceptual.loss import gram_matrix
from stylenet.teacher.evaluate import painting_scale, training_loss

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # neural-style's start, randn × 0.001 around the mean, is this to the eye


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--size", type=int, default=512, help="the photo's long side (default 512)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 2.0], help="stroke scales to paint at")
    a = parser.parse_args()
    meta = read_checkpoint(a.ckpt)[META_KEY]
    photo = load_image(a.photo, size=a.size)
    scale = painting_scale(meta, "train") or 1.0
    loss, painting, cfg, _ = training_loss(meta, torch.device("cpu"), style_size=round(scale * max(photo.shape[-2:])))
    stylizer = Stylizer.from_checkpoint(a.ckpt, device="cpu", backend="torch")
    images = {"photo": photo, "flat (mean colour)": torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand_as(photo).clone()}
    for s in a.scales:
        images[f"network, stroke scale {s:g}"] = stylizer(photo, stroke_scale=s)
    weights = cfg.get("style_layer_weights") or [1.0] * len(loss.style_layers)
    print(f"{a.photo} at {a.size} px, the painting at {painting.shape[-1]}×{painting.shape[-2]} (scale {scale:g}); "
          f"style_weight {cfg.get('style_weight')}, layer weights {weights}\n")
    print("| image | " + " | ".join(f"{layer}: error (energy)" for layer in loss.style_layers) + " | style loss |")
    print("|---|" + "---|" * (len(loss.style_layers) + 1))
    with torch.no_grad():
        target = loss.encoder(painting)
        for name, image in images.items():
            features = loss.encoder(image)
            cells, total = [], 0.0
            for layer, w in zip(loss.style_layers, weights):
                gt, gx = gram_matrix(target[layer]), gram_matrix(features[layer])
                err = (F.mse_loss(gx, gt) / gt.pow(2).mean()).item()
                total += w * err
                cells.append(f"{err:.2f} ({(gx.pow(2).mean() / gt.pow(2).mean()).sqrt().item():.2f}×)")
            print(f"| {name} | " + " | ".join(cells) + f" | {float(cfg.get('style_weight', 1.0)) * total:.2f} |")


if __name__ == "__main__":
    main()
