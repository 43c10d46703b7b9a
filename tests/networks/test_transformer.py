"""Units of the core: the transform network, the VGG encoder, the perceptual loss, checkpoints."""

from __future__ import annotations

import pytest
import torch

from stylenet.networks.transformer import TransformerNet, run_any_size


@pytest.mark.parametrize("size", [(256, 256), (64, 48), (1, 1), (3, 5), (17, 31), (101, 7)])
def test_transformer_keeps_any_input_size(size):
    net = TransformerNet(8, 1).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = run_any_size(net, x)
    assert y.shape == x.shape


def test_transformer_widths_and_blocks_are_configurable():
    full, half = TransformerNet(), TransformerNet(base_channels=16)
    n_full = sum(p.numel() for p in full.parameters())
    n_half = sum(p.numel() for p in half.parameters())
    assert 1.6e6 < n_full < 1.8e6  # the paper's network: ~1.68 M parameters
    assert n_half < n_full / 3.5
    assert len(TransformerNet(num_residual_blocks=2).residuals) == 2


@pytest.mark.parametrize("size", [(64, 48), (1, 1), (17, 31)])
def test_the_fast_network_keeps_any_size_and_never_computes_at_full_resolution(size):
    net = TransformerNet(8, 1, stem="space_to_depth", residual_channels=12).eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        assert run_any_size(net, x).shape == x.shape
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1])) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net(torch.rand(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert max(seen) == 16  # every convolution at half resolution or below
    assert net.config == {"base_channels": 8, "num_residual_blocks": 1, "stem": "space_to_depth", "residual_channels": 12}
    assert TransformerNet(8, 1).config == {"base_channels": 8, "num_residual_blocks": 1}  # older files: unchanged keys
    with pytest.raises(ValueError, match="stem must be one of full, space_to_depth"):
        TransformerNet(8, 1, stem="pixels")


def test_transformer_does_not_modify_its_input():
    net = TransformerNet(8, 1)
    x = torch.rand(1, 3, 32, 32)
    x0 = x.clone()
    net(x)
    assert torch.equal(x, x0)
