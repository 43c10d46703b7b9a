"""Temporal consistency learned from still photos, so that no optical flow is needed when stylising a film.

Two terms on the transform network ``f``, added to the perceptual loss while training:

* **motion** (Wang et al. 2020, "Consistent Video Style Transfer via Compound Regularization"): for a photo
  ``x`` and a random small motion ``M`` with known flow (translation, rotation, zoom and a smooth local
  elastic warp, as a camera and the scene move between two frames), ``f(M(x))`` should equal ``M(f(x))``;
  penalised as the mean squared difference over the pixels ``M`` keeps inside the frame;
* **noise** (Gupta et al. 2017, "Characterizing and Improving Stability in Neural Style Transfer"):
  ``f(x + ε) ≈ f(x)`` for small Gaussian pixel noise ``ε``, the frame-to-frame change a still camera gives.

Weights of 0 (the default) switch a term off and cost nothing. ``start_step`` and ``ramp_steps`` bring the
terms in late: off (and free) before ``start_step``, then ramped linearly to their weights, so the network
learns to paint first and to hold still after (the style-first order of Ruder et al. 2018's fine-tuning of a
trained image network for video). The settings live in ``module.temporal`` and are saved in every checkpoint
(``meta["train"]["temporal"]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from stylenet.config import ConfigError
from stylenet.perceptual.terms import LossTerm, all_terms, register


@dataclass
class TemporalConfig:
    motion_weight: float = 0.0
    noise_weight: float = 0.0
    max_shift: float = 8.0  # px, per axis
    max_rotation: float = 2.0  # degrees
    max_zoom: float = 0.04  # relative
    elastic: float = 2.0  # px, largest displacement of the smooth local warp
    noise_std: float = 0.02  # pixels in [0, 1]
    start_step: int = 0  # the terms are off before this step
    ramp_steps: int = 0  # then grow linearly to their weights over these steps

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"module.temporal.{k}={v!r} must be a number >= 0")
        for k in ("start_step", "ramp_steps"):
            v = getattr(self, k)
            if v != int(v):
                raise ConfigError(f"module.temporal.{k}={v!r} must be a whole number of steps, e.g. module.temporal.{k}=300")
            setattr(self, k, int(v))

    def factor(self, step: int) -> float:
        """The share of the weights in force at training step ``step``: 0 before ``start_step``, then
        linear to 1 over ``ramp_steps``."""
        if step < self.start_step:
            return 0.0
        if self.ramp_steps <= 0:
            return 1.0
        return min(1.0, (step - self.start_step + 1) / self.ramp_steps)

    @property
    def active(self) -> bool:
        return any(float(getattr(self, t.weight_key, 0.0)) > 0 for t in all_terms("network"))


def random_motion(x: torch.Tensor, cfg: TemporalConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sampling grid (B×H×W×2, ``grid_sample``'s [-1, 1] coordinates) for a random small motion per image."""
    b, _, h, w = x.shape
    dev = x.device

    def uniform(*shape):
        return (torch.rand(*shape, generator=generator, device="cpu") * 2 - 1).to(dev)

    angle = uniform(b) * math.radians(cfg.max_rotation)
    scale = 1 + uniform(b) * cfg.max_zoom
    shift = uniform(b, 2) * torch.tensor([2 * cfg.max_shift / w, 2 * cfg.max_shift / h], device=dev)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # Square pixels under rotation on a non-square grid: rotate in pixel units, then back to [-1, 1].
    theta = torch.stack([torch.stack([cos, -sin * h / w, shift[:, 0]], -1), torch.stack([sin * w / h, cos, shift[:, 1]], -1)], 1)
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    if cfg.elastic > 0:  # smooth: random offsets on a 4×4 lattice, upsampled bicubically
        coarse = uniform(b, 2, 4, 4) * torch.tensor([2 * cfg.elastic / w, 2 * cfg.elastic / h], device=dev).view(1, 2, 1, 1)
        grid = grid + F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    return grid


def apply_motion(img: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``img`` moved along ``grid`` (bilinear) and the mask (B×1×H×W) of pixels whose whole bilinear footprint
    came from inside it.

    The mask is a ones image warped the same way and required to stay 1: a sampling point within half a pixel
    of the frame's edge mixes in ``grid_sample``'s zero padding, and a test of the point alone (|grid| <= 1)
    kept those half-darkened pixels: 0.8 % of a 128 px frame carried 95 % of a stand-in network's motion error,
    a border the network can never produce."""
    g = grid.to(img.dtype)
    moved = F.grid_sample(img, g, mode="bilinear", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(img[:, :1])
    inside = (F.grid_sample(ones, g, mode="bilinear", padding_mode="zeros", align_corners=False) >= 1 - 1e-4).to(img.dtype)
    return moved, inside


def motion_term(weight: float, net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, cfg: TemporalConfig,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Wang et al.'s f(M(x)) vs M(f(x)): weight × the mean squared difference over the pixels the motion keeps."""
    grid = random_motion(x, cfg, generator)
    moved_x, inside = apply_motion(x, grid)
    moved_y, _ = apply_motion(y, grid)
    err = (net(moved_x) - moved_y) ** 2 * inside
    return weight * err.sum() / (inside.sum() * y.shape[1]).clamp_min(1)


def noise_term(weight: float, net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, cfg: TemporalConfig,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Gupta et al.'s f(x + ε) vs f(x): weight × the mean squared difference."""
    noise = torch.randn(x.shape, generator=generator, device="cpu").to(x.device, x.dtype) * cfg.noise_std
    return weight * F.mse_loss(net((x + noise).clamp(0, 1)), y)


# Registration order is the order the terms draw from the generator: a resumed run draws what it drew.
register(LossTerm("motion", "motion_weight", "network", motion_term))
register(LossTerm("noise", "noise_weight", "network", noise_term))


def temporal_terms(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, cfg: TemporalConfig,
                   generator: torch.Generator | None = None, step: int = 0) -> dict[str, torch.Tensor]:
    """The weighted ``network`` terms for photos ``x`` whose stylised images are ``y = net(x)`` at training step
    ``step`` (:meth:`TemporalConfig.factor`); a term whose weight (a ``module.temporal`` key) is 0 there is not
    computed, so all off is empty."""
    terms: dict[str, torch.Tensor] = {}
    share = cfg.factor(step)
    for term in all_terms("network"):
        weight = float(getattr(cfg, term.weight_key, 0.0)) * share
        if weight > 0:
            terms[term.name] = term.compute(weight, net, x, y, cfg, generator)
    return terms
