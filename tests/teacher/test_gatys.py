"""The Gatys teacher (stylenet/teacher/gatys.py) and the colour helpers it shares with inference (stylenet/perceptual/color.py)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ROOT, SHARED_WEIGHTS, requires_shared_weights
from helpers import images

from stylenet.data.images import load_image
from stylenet.perceptual.color import rgb_to_yuv
from stylenet.perceptual.loss import build_perceptual_loss
from stylenet.teacher.gatys import NEURAL_STYLE_MEAN, TeacherDiverged, curve_spike, make_init, scale_sides, stylize


def small_loss(**kw) -> torch.nn.Module:
    torch.manual_seed(0)  # random VGG weights: deterministic, offline; enough for optimisation behaviour
    args = dict(weights="random", content_layers=["relu2_2"], style_layers=["relu1_2", "relu2_2"],
                content_weight=1.0, style_weight=1e5, tv_weight=1.0)
    args.update(kw)
    return build_perceptual_loss(**args)


def _teacher_paints(overrides: list[str]) -> None:
    from omegaconf import OmegaConf

    from stylenet.config import compose

    cfg = compose("gatys", ["content=x", *overrides])
    loss = build_perceptual_loss(**OmegaConf.to_container(cfg.loss, resolve=True))
    photo = load_image(ROOT / "assets" / "sample" / "chelsea.jpg", 128)
    style = load_image(ROOT / "assets" / "styles" / "wave.jpg", 256)
    r = stylize(loss, photo, styles=style, iterations=40)
    first, last = r.history[0], r.history[-1]
    assert last["total"] < 0.3 * first["total"]
    assert last["style"] < 0.2 * first["style"]
    assert (r.image - photo).abs().mean().item() > 0.03  # visibly painted, not the photo


def test_teacher_lowers_the_total_loss_from_the_photo():
    loss = small_loss()
    content, style = images()
    before = content.clone()
    r = stylize(loss, content, styles=style, iterations=15)
    totals = [h["total"] for h in r.history]
    assert len(r.history) == 16 and [h["iteration"] for h in r.history] == list(range(16))
    assert totals[-1] < 0.6 * totals[0]
    assert all(h["time"] >= 0 for h in r.history)
    assert [h["time"] for h in r.history] == sorted(h["time"] for h in r.history)
    assert torch.equal(content, before), "the caller's photo must not be modified"
    assert r.image.shape == content.shape and 0 <= r.image.min() and r.image.max() <= 1


def test_adam_and_noise_start_also_lower_the_loss_and_seed_is_reproducible():
    loss = small_loss()
    content, style = images()
    a = stylize(loss, content, styles=style, iterations=20, optimizer="adam", init="uniform", seed=3)
    b = stylize(loss, content, styles=style, iterations=20, optimizer="adam", init="uniform", seed=3)
    assert a.history[-1]["total"] < 0.5 * a.history[0]["total"]
    assert torch.equal(a.image, b.image)
    assert not torch.equal(make_init("uniform", content, 3), make_init("uniform", content, 4))


def test_the_noise_start_is_neural_styles_almost_flat_mean_colour_and_the_teacher_paints_from_it():
    # jcjohnson/neural-style's -init random: randn x 0.001 in Caffe's mean-subtracted 0-255 space.
    content, style = images()
    x = make_init("noise", content, 3)
    mean = torch.tensor(NEURAL_STYLE_MEAN).view(1, 3, 1, 1)
    assert x.shape == content.shape and (x - mean).abs().max() < 1e-4 and (x - mean).std() > 0
    assert torch.equal(x, make_init("noise", content, 3)) and not torch.equal(x, make_init("noise", content, 4))
    assert make_init("uniform", content, 3).std() > 0.25  # white noise: the old start, kept by name
    # 25 iterations: from the near-flat start the loss hardly moves for the first ~10 on some CPUs (on an AVX2-only
    # EPYC it was at 53 % of the start after 15 and 30 % after 25; faster on AVX-512 machines).
    r = stylize(small_loss(), content, styles=style, iterations=25, init="noise", seed=3)
    assert r.history[-1]["total"] < 0.5 * r.history[0]["total"]


def test_blend_weights_select_and_mix_the_styles():
    content, style = images()
    other = 1 - style  # inverted colours: different Grams
    run = lambda styles, w=None: stylize(small_loss(), content, styles=styles, blend_weights=w, iterations=6).image  # noqa: E731
    only_a, only_b = run(style), run(other)
    # A blend weight of 0 removes a style entirely; the result is the single-style result exactly.
    assert torch.allclose(run([style, other], [1.0, 0.0]), only_a, atol=1e-6)
    assert torch.allclose(run([style, other], [0.0, 2.0]), only_b, atol=1e-6)
    mixed = run([style, other], [1.0, 1.0])
    assert not torch.allclose(mixed, only_a, atol=1e-4) and not torch.allclose(mixed, only_b, atol=1e-4)
    with pytest.raises(ValueError, match="blend weight"):
        stylize(small_loss(), content, styles=[style, other], blend_weights=[1.0], iterations=1)


def test_colour_preservation_keeps_the_photos_chrominance():
    content, style = images()
    loss = small_loss()
    plain = stylize(loss, content, styles=style, iterations=10)
    kept = stylize(loss, content, styles=style, iterations=10, preserve_color=True)
    uv = lambda x: rgb_to_yuv(x)[:, 1:]  # noqa: E731
    # Chroma of the colour-preserved result = the photo's (up to clamping); the plain one drifts away.
    assert (uv(kept.image) - uv(content)).abs().mean() < 0.02
    assert (uv(plain.image) - uv(content)).abs().mean() > 2 * (uv(kept.image) - uv(content)).abs().mean()


def test_coarse_to_fine_runs_each_scale_and_ends_at_full_size():
    assert scale_sides(512, 3) == [128, 256, 512]
    assert scale_sides(100, 3) == [100]  # below 64 px the coarse levels are dropped
    loss = small_loss()
    content, style = images(hw=(96, 128))
    r = stylize(loss, content, styles=style, iterations=4, scales=2)
    # Coarse rows 0-3, then the upsampled image (iteration 4) and its 4 updates at full size.
    assert [h["scale"] for h in r.history] == [64] * 4 + [128] * 5
    assert [h["iteration"] for h in r.history] == list(range(9))
    assert r.image.shape == content.shape


def test_stop_below_ends_the_run_at_the_first_iteration_reaching_it():
    loss = small_loss()
    content, style = images()
    full = stylize(loss, content, styles=style, iterations=12)
    target = full.history[5]["total"]
    part = stylize(loss, content, styles=style, iterations=12, stop_below=target)
    first = next(i for i, h in enumerate(full.history) if h["total"] <= target)
    assert len(part.history) == first + 1


def test_divergence_is_reported_not_returned():
    loss = small_loss()
    content, style = images()
    with pytest.raises(TeacherDiverged, match="diverged"):
        stylize(loss, content, styles=style, iterations=5, optimizer="adam", lr=float("inf"))


def test_the_default_teacher_paints_with_the_shipped_vgg19():
    """conf/gatys.yaml as a user gets it: Gatys et al.'s layers on the embedded ImageNet VGG19, offline."""
    _teacher_paints([])


@pytest.mark.slow
@requires_shared_weights
def test_real_features_stylise_a_photo_with_the_shared_weights():
    _teacher_paints(["loss=vgg16", f"loss.weights={SHARED_WEIGHTS}", "loss.style_weight=1"])


def test_a_finite_explosion_is_divergence_too():
    # Adam at a huge rate once ran to a loss of 1e27, finite, and the command wrote the (white) image.
    content, style = images()
    with pytest.raises(TeacherDiverged, match="diverged") as e:
        stylize(small_loss(), content, styles=style, iterations=50, optimizer="adam", lr=1e4, init="uniform")
    assert e.value.history and all(math.isfinite(r["total"]) for r in e.value.history)


def test_on_divergence_stop_returns_the_curve_and_curve_spike_finds_where_it_left():
    content, style = images()
    r = stylize(small_loss(), content, styles=style, iterations=50, optimizer="adam", lr=1e4, init="uniform", on_divergence="stop")
    totals = [h["total"] for h in r.history]
    spike = curve_spike(totals)
    assert spike is not None and 0 < spike < len(totals)
    assert all(t <= 1e3 * min(totals[:spike]) for t in totals[:spike])
    assert torch.isfinite(r.image).all() and 0 <= r.image.min() and r.image.max() <= 1


def test_curve_spike_ignores_transient_overshoots_and_flags_a_late_one():
    assert curve_spike([10.0, 5e4, 3.0, 2.0, 1.0]) is None  # L-BFGS from the photo overshoots, then converges
    assert curve_spike([10.0, 5.0, 3.0, 2.0, 1e4]) == 4  # a late spike: scored on iterations 0..3
    assert curve_spike([10.0, 5.0, 3.0, 2.0, 2.5, float("inf")]) == 5
    assert curve_spike([10.0, 1.0, 5e3, 0.9, 2e3]) == 4  # from the best (0.9): 2e3 > 1e3 x 0.9
    assert curve_spike([]) is None
