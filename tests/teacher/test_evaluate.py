"""Scoring a network against the Gatys teacher (stylenet/teacher/evaluate.py) and its training callback."""

from __future__ import annotations

import pytest
import torch
from helpers import LOSS

from stylenet.networks.transformer import TransformerNet
from stylenet.perceptual.loss import build_perceptual_loss
from stylenet.teacher.evaluate import format_equiv, score_photo, teacher_equivalent
from stylenet.teacher.report import spread


@pytest.mark.parametrize(
    "totals, target, expected",
    [
        ([10.0, 8.0, 5.0, 3.0, 2.0], 4.0, 3),  # first iteration at or below the network's loss
        ([10.0, 8.0, 5.0, 3.0, 2.0], 5.0, 2),  # equality counts as reached
        ([10.0, 8.0, 5.0, 3.0, 2.0], 1.0, None),  # never reached within K
        ([1.0, 0.5, 0.2], 3.0, 0),  # the starting image (the photo) already beats the network
        ([10.0, 4.0, 6.0, 3.0], 5.0, 1),  # non-monotone curve (Adam): the first crossing, not the last
        ([], 1.0, None),
    ],
)
def test_teacher_equivalent_iterations_on_known_curves(totals, target, expected):
    assert teacher_equivalent(totals, target) == expected


def test_never_reached_is_reported_as_more_than_k():
    assert format_equiv(None, 200) == "> 200" and format_equiv(7, 200) == "7"
    s = spread([3.0, 5.0, 201.0], iterations=200)
    assert s["median"] == "5" and s["max"] == "> 200" and s["min"] == "3"


def test_score_photo_is_consistent_with_the_teacher_curve():
    torch.manual_seed(0)
    loss = build_perceptual_loss(**LOSS)
    loss.set_style(torch.rand(1, 3, 48, 48))
    net = TransformerNet(8, 1).eval()
    photo = torch.rand(1, 3, 32, 36)
    score, net_img, teacher_img = score_photo(net, loss, photo, iterations=8, repeats=1)
    totals = [r["total"] for r in score.history]
    assert len(totals) == 9 and score.net_seconds > 0
    assert score.equiv == teacher_equivalent(totals, score.net_terms["total"])
    if score.equiv is not None:  # an untrained net is usually beaten within a few iterations
        assert score.teacher_seconds == score.history[score.equiv]["time"]
        assert score.speed_ratio == pytest.approx(score.teacher_seconds / score.net_seconds)
    assert net_img.shape == teacher_img.shape == photo.shape
    # The early-exit variant (training callback) gives the same score with a shorter curve.
    early, _, _ = score_photo(net, loss, photo, iterations=8, repeats=1, full_curve=False)
    assert early.equiv == score.equiv and len(early.history) <= len(score.history)
