"""A narrower AdaIN decoder taught by a wider one (knowledge distillation, Hinton, Vinyals & Dean 2015; MicroAST,
Wang et al. 2023, trains its small networks against VGG's losses instead).

    t = lerp(Φ₄(photo), AdaIN(Φ₄(photo), Φ₄(another photo of the batch)), α),   α ~ U(0, 1) per photo
    L = ‖D(t) − T(t)‖² + feature_weight · ‖Φ₄(D(t)) − Φ₄(T(t))‖² / mean(Φ₄(T(t))²)

with D the decoder trained and T the teacher (frozen). Why: a decoder trained by Li et al.'s reconstruction loss
only ever decodes a photo's own features, while AdaIN hands it features with another image's statistics. The
teacher's output on exactly those features is a target for every pixel, the textures included, which the
reconstruction loss cannot give. The statistics come from the batch's other photos, not from paintings, so no
painting a score uses is seen in training; α from 0 (the reconstruction itself) to 1 covers the strengths a user
asks for.

Measured (docs/universal.md, "A half-width AdaIN decoder"): a half-width decoder taught by the shipped one for the
CPU recipe's 1,200 steps scored no better than the same decoder trained to reconstruct, and worse on three
paintings of five, so the half-width recipe does not use it. It stays an option for longer runs and other pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stylenet.networks.checkpoint import CheckpointError
from stylenet.universal.checkpoint import read_universal, require_levels
from stylenet.universal.decoder import Decoder
from stylenet.universal.transforms import adain_batch
from stylenet.zoo import resolve

LEVEL, LAYER = 4, "relu4_1"  # AdaIN's


@dataclass(frozen=True)
class Distillation:
    """``teacher``: a universal decoders file or a shipped model's name holding a relu4_1 decoder."""

    teacher: str

    def describe(self) -> dict:
        return {"teacher": self.teacher}


def load_teacher(teacher: str, encoder: dict) -> Decoder:
    """The teacher's relu4_1 decoder (frozen, eval mode); one line when it is absent or inverts another VGG."""
    path = resolve(teacher)
    decoders, meta = read_universal(path)
    require_levels(meta, [LEVEL], path, "decoders.distill")
    if meta.encoder != encoder:
        raise CheckpointError(f"{path} inverts {meta.encoder['network']} with weights {meta.encoder['weights']!r}, but this run's "
                              f"decoders invert {encoder['network']} with {encoder['weights']!r}: a teacher must decode the same features")
    return decoders[LEVEL]


def mixed_features(target: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each photo's relu4_1 features given the next photo's channel statistics (AdaIN), by a random strength α."""
    if len(target) < 2:  # one photo: nothing to borrow statistics from, the reconstruction alone
        return target
    alpha = torch.rand(len(target), 1, 1, 1, generator=generator).to(target.device, target.dtype)
    return torch.lerp(target, adain_batch(target, target.roll(1, 0)), alpha)


def distill_terms(student: Decoder, teacher: Decoder, encode, t: torch.Tensor, feature_weight: float,
                  normalize: bool = True) -> dict[str, torch.Tensor]:
    """The module docstring's loss for features ``t``; ``encode(image)`` gives its relu4_1 features."""
    with torch.no_grad():
        want = teacher(t, clamp=False)
        want_features = encode(want)
    y = student(t, clamp=False)  # unclamped, as in the reconstruction loss (decoder.py)
    pixel = F.mse_loss(y, want)
    feature = F.mse_loss(encode(y), want_features)
    if normalize:
        feature = feature / want_features.pow(2).mean().clamp_min(1e-8)
    return {"pixel": pixel, "feature": feature, "total": pixel + feature_weight * feature}
