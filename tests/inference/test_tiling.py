"""Tiled stylisation (stylenet/inference/tiling.py): shared instance-norm statistics, seamless blending."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
from helpers import PHOTO

import stylenet.inference.tiling as tiling
from stylenet.data.images import load_image
from stylenet.inference.instance_norm import frozen_instance_norm, record_instance_norm_stats
from stylenet.inference.tiling import stylize_tiled, tile_spans
from stylenet.networks.inference import InferenceNet
from stylenet.networks.transformer import TransformerNet, run_any_size


def tiny_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = TransformerNet(8, 1)
    with torch.no_grad():  # non-trivial norm affines, so a wrong statistic shows
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return InferenceNet(net).eval()


def clamp(y, _photo):
    return y.clamp(0, 1)


@pytest.mark.parametrize("length,tile,overlap", [(300, 128, 48), (1000, 256, 64), (4096, 1024, 128), (130, 128, 32), (10, 64, 16)])
def test_tiles_cover_the_axis_on_the_network_grid_with_at_least_the_overlap(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == length
    assert all(start % 4 == 0 for start, _ in spans)  # the stride-2 stages' sampling grid
    for (s0, n0), (s1, _) in zip(spans, spans[1:]):
        assert s0 + n0 - s1 >= overlap
    assert all(n <= tile + 3 for _, n in spans)


def test_frozen_statistics_of_the_same_image_reproduce_the_network():
    net = tiny_net()
    x = torch.rand(1, 3, 40, 52)
    with torch.inference_mode():
        plain = net(x)
        with record_instance_norm_stats(net) as stats:
            net(x)
        with frozen_instance_norm(net, stats):
            frozen = net(x)
        after = net(x)
    assert len(stats) == sum(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules())
    assert torch.allclose(frozen, plain, atol=1e-5)
    assert torch.equal(after, plain)  # the context manager restored the modules


def test_frozen_statistics_are_restored_after_an_error():
    net = tiny_net()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode(), record_instance_norm_stats(net) as stats:
        net(x)
    with pytest.raises(RuntimeError), frozen_instance_norm(net, stats):
        raise RuntimeError("boom")
    assert not any("forward" in m.__dict__ for m in net.modules())


def test_tiled_equals_untiled_where_both_fit():
    net = tiny_net()
    x = load_image(PHOTO, size=160)  # 160×106 → two tiles across, overlapping by 64 px
    run = lambda t: run_any_size(net, t)  # noqa: E731
    with torch.inference_mode():
        whole = run(x).clamp(0, 1)
        tiled = stylize_tiled(run, net, x, tile=128, overlap=63, stats_size=160, finish=clamp)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() < 0.02  # ~4 levels of 255, at the seam, in the worst pixel
    assert (tiled - whole).abs().mean() < 1e-4


def test_shared_statistics_keep_tiles_from_drifting_apart():
    # Normalising each tile by its own statistics (what tiling without the fix does) changes the result
    # far more than the shared statistics do.
    net = tiny_net()
    x = load_image(PHOTO, size=160)
    run = lambda t: run_any_size(net, t)  # noqa: E731
    with torch.inference_mode():
        whole = run(x).clamp(0, 1)
        shared = stylize_tiled(run, net, x, tile=96, overlap=40, stats_size=160, finish=clamp)
        original = tiling.frozen_instance_norm
        try:
            tiling.frozen_instance_norm = lambda net, stats: nullcontext()
            per_tile = stylize_tiled(run, net, x, tile=96, overlap=40, stats_size=160, finish=clamp)
        finally:
            tiling.frozen_instance_norm = original
    assert (per_tile - whole).abs().mean() > 10 * (shared - whole).abs().mean()


def test_uint8_and_float_input_give_the_same_tiles():
    net = tiny_net()
    x = load_image(PHOTO, size=150)
    x8 = (x * 255).round().to(torch.uint8)
    run = lambda t: run_any_size(net, t)  # noqa: E731
    with torch.inference_mode():
        a = stylize_tiled(run, net, x8, tile=96, overlap=32)
        b = stylize_tiled(run, net, x8.float() / 255, tile=96, overlap=32)
    assert torch.allclose(a, b, atol=1e-5)


def test_bad_tiling_arguments_are_refused():
    net = tiny_net()
    x = torch.rand(1, 3, 64, 64)
    run = lambda t: run_any_size(net, t)  # noqa: E731
    with pytest.raises(ValueError, match="overlap"):
        stylize_tiled(run, net, x, tile=64, overlap=32)
    with pytest.raises(ValueError, match="one image"):
        stylize_tiled(run, net, torch.rand(2, 3, 64, 64), tile=64, overlap=8)
