"""The Gatys teacher on a film (Ruder, Dosovitskiy & Brox 2016, "Artistic style transfer for videos").

Frame t starts from the result of frame t-1 warped along the input's optical flow and is held to it by the
short-term temporal loss where the flow's forward-backward check trusts it (:mod:`stylenet.teacher.flicker`
computes the flow and the mask); with every ``frames`` term off it is the teacher frame by frame, each frame
from its own start. The temporal term is registered here (:mod:`stylenet.perceptual.terms`, kind ``frames``,
weight ``temporal_weight`` of the gatys command), so the curves and the command's progress lines name it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from stylenet.perceptual.loss import PerceptualLoss
from stylenet.perceptual.terms import LossTerm, all_terms, register
from stylenet.teacher.flicker import FramePair, frame_pairs, warp
from stylenet.teacher.gatys import stylize


def temporal_term(weight: float, image: torch.Tensor, previous: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s short-term temporal loss: ``weight`` × the mean squared difference to the previous result
    warped to this frame, over the mask (B×1×H×W: the pixels the flow follows)."""
    return weight * (((image - previous) ** 2) * mask).sum() / (3 * mask.sum()).clamp_min(1)


register(LossTerm("temporal", "temporal_weight", "frames", temporal_term))


def frame_terms(previous: torch.Tensor, mask: torch.Tensor, weights: Mapping[str, float]) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The registered ``frames`` terms whose weight (``weights``, by weight key) is > 0, each a function of the
    image, as :func:`stylenet.teacher.gatys.stylize` takes them."""
    out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    for term in all_terms("frames"):
        weight = float(weights.get(term.weight_key, 0.0))
        if weight > 0:
            out[term.name] = lambda image, t=term, w=weight: t.compute(w, image, previous, mask)
    return out


def _to_tensor(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().div(255).to(device)


def stylize_video(
    loss: PerceptualLoss,
    frames: list[np.ndarray],
    *,
    weights: Mapping[str, float],
    init: str = "content",
    on_frame: Callable[[int, dict[str, float]], None] | None = None,
    **options: Any,
) -> tuple[list[np.ndarray], list[FramePair]]:
    """Stylise ``frames`` (H×W×3 uint8, one size) with the teacher, frame after frame; returns the results
    (uint8) and the input's frame pairs (flow and mask, for the warping error).

    ``weights``: the ``frames`` terms' weights by weight key (``temporal_weight``). ``init``: the first frame's
    start, and every frame's when no ``frames`` term is on. ``options``: :func:`~stylenet.teacher.gatys.stylize`'s
    (styles, iterations, optimizer, ...). ``on_frame(i, last history row)`` after each frame."""
    device = next(loss.encoder.parameters()).device
    on = any(float(weights.get(t.weight_key, 0.0)) > 0 for t in all_terms("frames"))
    pairs = frame_pairs(frames)
    results: list[np.ndarray] = []
    for i, frame in enumerate(frames):
        start: str | torch.Tensor = init
        terms = None
        if i and on:
            start = _to_tensor(warp(results[-1], pairs[i - 1].flow), device)  # the previous result, moved to this frame
            mask = torch.from_numpy(pairs[i - 1].mask)[None, None].float().to(device)
            terms = frame_terms(start, mask, weights)
        r = stylize(loss, _to_tensor(frame, device), init=start, frame_terms=terms, **options)
        results.append((r.image[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))
        if on_frame is not None:
            on_frame(i, r.history[-1])
    return results, pairs
