"""The registry of loss terms (stylenet/perceptual/terms.py): what reads it and that it changed no number."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from helpers import LOSS, tiny_cfg

from stylenet.networks.transformer import TransformerNet
from stylenet.perceptual import terms
from stylenet.perceptual.loss import build_perceptual_loss, gram_matrix, total_variation
from stylenet.perceptual.terms import LossTerm
from stylenet.teacher.gatys import stylize
from stylenet.teacher.report import scores_csv, summary_markdown
from stylenet.teacher.scores import PhotoScore, curve_columns, curve_csv, photo_row
from stylenet.teacher.video import frame_terms
from stylenet.training.build import train
from stylenet.training.temporal import TemporalConfig, apply_motion, random_motion, temporal_terms


def brightness(weight, inputs):  # a toy image term: how far the mean pixel is from mid-grey
    return weight * (inputs.output.float().mean() - 0.5) ** 2


@pytest.fixture()
def toy():
    term = terms.register(LossTerm("brightness", "brightness_weight", "image", brightness))
    try:
        yield term
    finally:
        terms.unregister("brightness")


def _loss(**kw):
    loss = build_perceptual_loss(**{**LOSS, **kw})
    loss.set_style(torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(1)))
    return loss


def test_a_registered_term_is_in_the_loss_the_teacher_curve_and_both_csvs_then_gone_when_unregistered(toy):
    photo = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    loss = _loss(brightness_weight=3.0)
    out = loss(photo.flip(-1), photo)
    assert list(out) == ["content", "style", "tv", "brightness", "total"]
    assert out["brightness"] == 3.0 * (photo.mean() - 0.5) ** 2
    assert out["total"] == out["content"] + out["style"] + out["tv"] + out["brightness"]
    assert _loss()(photo, photo)["brightness"] == 0  # no weight given: off

    history = stylize(loss, photo, iterations=2, init="noise").history
    assert all("brightness" in row for row in history)
    assert next(csv.reader(io.StringIO(curve_csv(history)))) == list(curve_columns())
    assert curve_columns() == ("iteration", "time", "content", "style", "tv", "brightness", "total")
    score = PhotoScore("p", {k: float(v) for k, v in out.items()}, 0.1, 2, None, 0.2, history, "noise", 1.0)
    assert "net_brightness" in photo_row([score])
    assert "net_brightness" in scores_csv([[score]]).splitlines()[0].split(",")
    info = {"iterations": 2, "inits": ["noise"], "seed": 0, "ckpt": "c", "style": "s", "size": 32, "device": "cpu",
            "optimizer": "lbfgs", "loss_source": "the training loss",
            "loss": {"content_weight": 1.0, "style_weight": 5.0, "tv_weight": 0.0, "brightness_weight": 3.0, "weights": "w"}}
    summary = summary_markdown([[score]], [], info)
    assert "content 1, style 5, tv 0, brightness 3, VGG weights" in summary
    head = next(line for line in summary.splitlines() if line.startswith("| photo |"))
    assert head == "| photo | net content | net style | style vs photo | net tv | net brightness | net total | iters from noise | net s |"
    rows = [line for line in summary.splitlines() if line.startswith("| p |")]
    assert len(rows) == 1 and rows[0].count("|") == head.count("|")

    terms.unregister("brightness")
    assert "brightness" not in _loss()(photo, photo) and "brightness" not in curve_columns()
    assert "net_brightness" not in photo_row([score])
    with pytest.raises(TypeError, match="brightness_weight"):  # its weight is no loss argument any more
        _loss(brightness_weight=1.0)


def test_a_registered_term_is_logged_by_training(toy, tmp_path):
    metrics, _ = train(tiny_cfg(tmp_path, "+loss.brightness_weight=1", "trainer.max_steps=2"))
    assert metrics["train/brightness"] > 0


@dataclass
class WithStill(TemporalConfig):
    still_weight: float = 0.0  # the toy network term's weight, a key of module.temporal


def test_network_and_frames_terms_registered_beside_the_temporal_ones_are_computed_with_them():
    terms.register(LossTerm("still", "still_weight", "network", lambda w, net, x, y, cfg, g: w * (net(x) - y).abs().mean()))
    terms.register(LossTerm("far", "far_weight", "frames", lambda w, img, prev, mask: w * (img - prev).abs().mean()))
    x = torch.rand(1, 3, 16, 16)
    try:
        assert WithStill(still_weight=2.0).active and not WithStill().active
        assert temporal_terms(lambda t: t * 0.5, x, x, WithStill(still_weight=2.0)) == {"still": x.mean()}
        on = frame_terms(x, torch.ones(1, 1, 16, 16), {"temporal_weight": 0.0, "far_weight": 2.0})
        assert list(on) == ["far"] and on["far"](x * 0) == 2.0 * x.mean()
    finally:
        terms.unregister("still")
        terms.unregister("far")
    assert temporal_terms(lambda t: t, x, x, WithStill(still_weight=2.0)) == {}
    assert list(frame_terms(x, torch.ones(1, 1, 16, 16), {"temporal_weight": 1.0, "far_weight": 2.0})) == ["temporal"]


def test_registering_checks_the_kind_the_name_and_the_weight_key():
    with pytest.raises(ValueError, match="kind"):
        terms.register(LossTerm("x", "x_weight", "pixels", brightness))
    with pytest.raises(ValueError, match="total"):
        terms.register(LossTerm("total", "x_weight", "image", brightness))
    with pytest.raises(ValueError, match="content"):
        terms.register(LossTerm("x", "content_weight", "image", brightness))
    assert terms.names("image") == ("content", "style", "tv") and terms.names("network") == ("motion", "noise")
    with pytest.raises(KeyError, match="no loss term 'x'"):
        terms.get("x")


@pytest.mark.parametrize("normalize", [False, True])
def test_the_registered_terms_give_the_formulas_losses_bit_for_bit(normalize):
    """The losses before the registry, written out: content, style, TV and their sum, the same float ops."""
    g = torch.Generator().manual_seed(3)
    loss = _loss(normalize=normalize, content_weight=1.5, tv_weight=2.0)
    x, y = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    got = loss(y, x)
    feats, cf = loss.encoder(y), loss.content_features(x)
    content = y.new_zeros(())
    for layer in loss.content_layers:
        term = F.mse_loss(feats[layer].float(), cf[layer].float())
        content = content + (term / cf[layer].float().pow(2).mean().clamp_min(1e-30) if normalize else term)
    style = y.new_zeros(())
    for layer, w in zip(loss.style_layers, loss.style_layer_weights):
        gram = gram_matrix(feats[layer])
        scale = getattr(loss, f"style_scale_{layer}")[0] * loss.style_factor[0]
        style = style + w * scale * F.mse_loss(gram, getattr(loss, f"target_gram_{layer}").expand_as(gram))
    want = {"content": 1.5 * content, "style": loss.style_weight * style, "tv": 2.0 * total_variation(y)}
    want["total"] = want["content"] + want["style"] + want["tv"]
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)

    net = TransformerNet(8, 1)
    cfg = TemporalConfig(motion_weight=2.0, noise_weight=3.0)
    got = temporal_terms(net, x, net(x), cfg, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    grid = random_motion(x, cfg, g)
    (mx, inside), (my, _) = apply_motion(x, grid), apply_motion(net(x), grid)
    motion = 2.0 * ((net(mx) - my) ** 2 * inside).sum() / (inside.sum() * 3).clamp_min(1)
    noise = 3.0 * F.mse_loss(net((x + torch.randn(x.shape, generator=g) * cfg.noise_std).clamp(0, 1)), net(x))
    assert torch.equal(got["motion"], motion) and torch.equal(got["noise"], noise)
