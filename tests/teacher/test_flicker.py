"""The temporal warping error (stylenet/teacher/flicker.py) on a generated pan with known motion."""

from __future__ import annotations

import av
import numpy as np
from helpers import make_clip

from stylenet.teacher.flicker import frame_pairs, warping_error


def _frames(tmp_path, **kw):
    with av.open(str(make_clip(tmp_path / "pan.mp4", audio=False, **kw))) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_the_flow_of_a_pan_is_its_motion_and_the_revealed_edge_is_left_out(tmp_path):
    frames = _frames(tmp_path, frames=6, size=(96, 64))  # the photo slides 2 px left per frame
    for pair in frame_pairs(frames):
        assert abs(float(np.median(pair.flow[..., 0][pair.mask])) - 2.0) < 0.1
        assert abs(float(np.median(pair.flow[..., 1][pair.mask]))) < 0.1
        assert not pair.mask[:, -2:].any() and pair.mask[:, :80].mean() > 0.95  # new pixels came from outside


def test_a_result_that_moves_with_the_scene_does_not_flicker_and_noise_does(tmp_path):
    frames = _frames(tmp_path, frames=8, size=(96, 64))
    pairs = frame_pairs(frames)
    steady = [255 - f for f in frames]  # a per-pixel "style" that follows the motion
    rng = np.random.default_rng(0)
    noisy = [np.clip(f / 255 + rng.normal(0, 0.1, f.shape), 0, 1) for f in frames]  # independent noise per frame
    steady_err, per_pair = warping_error(steady, pairs)
    noisy_err, _ = warping_error(noisy, pairs)
    assert len(per_pair) == 7 and steady_err < 1e-3
    assert 0.04 < noisy_err < 0.08  # 3 channels x 2 x 0.1^2 = 0.06 for independent noise
