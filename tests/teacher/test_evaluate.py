"""Scoring a network against the Gatys teacher (stylenet/teacher/evaluate.py) and its training callback."""

from __future__ import annotations

import pytest
import torch
from helpers import LOSS

from stylenet.errors import StylenetError
from stylenet.networks.transformer import TransformerNet
from stylenet.perceptual.loss import build_perceptual_loss
from stylenet.teacher import evaluate
from stylenet.teacher.evaluate import coarse_style_ratios, painting_scale, score_photo, score_photo_starts
from stylenet.teacher.gatys import TeacherDiverged, TeacherResult
from stylenet.teacher.report import spread
from stylenet.teacher.scores import format_equiv, photo_row, teacher_equivalent


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


def _scored(monkeypatch, totals):
    """score_photo_starts with a teacher whose curve is ``totals``."""
    def fake_stylize(loss, photo, **kw):
        history = [{"iteration": i, "time": 0.1 * i, "scale": 32, "content": 0.0, "style": t, "tv": 0.0, "total": t}
                   for i, t in enumerate(totals)]
        return TeacherResult(image=photo.clone(), history=history)

    monkeypatch.setattr(evaluate, "stylize", fake_stylize)
    torch.manual_seed(0)
    loss = build_perceptual_loss(**LOSS)
    loss.set_style(torch.rand(1, 3, 48, 48))
    return score_photo_starts(TransformerNet(8, 1).eval(), loss, torch.rand(1, 3, 32, 36), "p.png", inits=("noise",),
                              iterations=len(totals) - 1, repeats=1)


def test_a_late_teacher_spike_scores_the_photo_on_the_curve_before_it_and_flags_it(monkeypatch):
    (score,), _, _ = _scored(monkeypatch, [1e9, 1e-12, 1e-12, 1e-12, 1.0])  # reached at 1, spike at 4 (> 1000x the best)
    assert score.equiv == 1 and score.spike == 4
    row = photo_row([score])
    assert row["teacher_spike_from_noise"] == 4 and row["equiv_iters_from_noise"] == "1"


def test_a_spike_before_the_networks_loss_fails_the_photo_with_one_line(monkeypatch):
    with pytest.raises(TeacherDiverged, match=r"p.png: the teacher from noise diverged at iteration 2 .* before reaching"):
        _scored(monkeypatch, [1e9, 1e8, 1e12])


def test_painting_scale_follows_the_training_run_a_number_or_nothing():
    meta = {"style": {"size": 256}, "train": {"image_size": 128}}
    assert painting_scale(meta, "train") == 2.0  # the quick recipe: a 256 px painting for 128 px crops
    assert painting_scale(meta, 1.5) == 1.5 and painting_scale(meta, None) is None
    assert painting_scale({"style": {}}, "train") is None  # outputs scored without a trained run: the fixed size
    for bad in (0, -1, float("nan"), float("inf"), 17, "photo"):
        with pytest.raises(StylenetError, match="style_scale"):
            painting_scale(meta, bad)


def test_coarse_style_ratios_measure_shrunk_images_and_restore_the_targets():
    torch.manual_seed(0)
    loss = build_perceptual_loss(**LOSS)
    painting, photo = torch.rand(1, 3, 96, 96), torch.rand(1, 3, 80, 100)
    loss.set_style(painting)
    before = {k: v.clone() for k, v in loss.named_buffers(recurse=False)}
    ratios = coarse_style_ratios(loss, painting, photo, photo)
    assert ratios[2] == pytest.approx(1.0) and ratios[4] != ratios[4]  # the photo is its own reference; 80/4 < 32: NaN
    blurred = torch.nn.functional.avg_pool2d(photo, 5, 1, 2)
    assert coarse_style_ratios(loss, painting, blurred, photo)[2] != pytest.approx(1.0)
    assert all(torch.equal(before[k], v) for k, v in loss.named_buffers(recurse=False))
