"""How much a stylised video flickers: the temporal warping error (Lai et al. 2018, "Learning Blind Video
Temporal Consistency", §5.1), with optical flow from OpenCV's DIS (Kroeger et al. 2016; no learned weights,
nothing to download).

For consecutive input frames t-1, t: the flow from frame t back to frame t-1 says where each pixel came
from; the stylised frame t-1 warped along it is what frame t should look like if the stylisation moved
with the scene. Pixels the flow cannot follow (occluded or disoccluded: the forward and the backward flow
disagree, Ruder et al. 2016 §3; or they come from outside the frame) are left out. The error is

    E_warp = 1/(T-1) Σ_t  Σ_i M_t(i) ‖O_t(i) − warp(O_{t-1})(i)‖²  /  Σ_i M_t(i)

over RGB in [0, 1]. The flow is computed on the *input* frames once and used for every network compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class FramePair:
    flow: np.ndarray  # H×W×2 float32: frame t(x) ≈ frame t-1(x + flow(x))
    mask: np.ndarray  # H×W bool: pixels the flow follows (not occluded, not from outside the frame)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow with ``a(x) ≈ b(x + flow(x))`` for two H×W×3 uint8 RGB frames (DIS, medium preset)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey(a), _grey(b), None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)`` (bilinear): frame t-1 brought to frame t's pixels."""
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)
    coords = grid + flow
    return cv2.remap(image, coords[..., 0], coords[..., 1], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def frame_pair(prev: np.ndarray, cur: np.ndarray) -> FramePair:
    """Backward flow (``cur`` → ``prev``) and the pixels it can be trusted on: the forward–backward check of
    Ruder et al. (2016, eq. 5), ``|b + f(x+b)|² ≤ 0.01 (|b|² + |f(x+b)|²) + 0.5``, and the frame's inside."""
    back = optical_flow(cur, prev)
    fwd = optical_flow(prev, cur)
    fwd_at = warp(fwd, back)  # the forward flow where each pixel of cur came from
    err = ((back + fwd_at) ** 2).sum(-1)
    mask = err <= 0.01 * ((back**2).sum(-1) + (fwd_at**2).sum(-1)) + 0.5
    h, w = back.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + back[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + back[..., 1]
    mask &= (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    return FramePair(flow=back, mask=mask)


def frame_pairs(frames: list[np.ndarray]) -> list[FramePair]:
    """The flow and mask between every two consecutive input frames (computed once per video)."""
    return [frame_pair(a, b) for a, b in zip(frames, frames[1:])]


def warping_error(outputs: list[np.ndarray], pairs: list[FramePair]) -> tuple[float, list[float]]:
    """E_warp of stylised frames (H×W×3, uint8 or float in [0, 1]) along the input's ``pairs``; also per pair."""
    if len(outputs) != len(pairs) + 1:
        raise ValueError(f"{len(outputs)} frames for {len(pairs)} frame pairs")
    out = [o.astype(np.float32) / 255.0 if o.dtype == np.uint8 else o.astype(np.float32) for o in outputs]
    errors = []
    for prev, cur, pair in zip(out, out[1:], pairs):
        diff = ((cur - warp(prev, pair.flow)) ** 2).sum(-1)
        errors.append(float(diff[pair.mask].mean()) if pair.mask.any() else float("nan"))
    finite = [e for e in errors if np.isfinite(e)]
    return (float(np.mean(finite)) if finite else float("nan")), errors
