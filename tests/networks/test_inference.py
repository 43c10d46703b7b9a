"""Inference: the Stylizer API (stylenet/inference/stylizer.py) and the infer.py command (stylenet/cli/infer.py)."""

from __future__ import annotations

import torch

from stylenet.networks.inference import InferenceNet
from stylenet.networks.transformer import TransformerNet


# ---- the network and the API ---------------------------------------------------------------------
def test_inference_net_computes_what_transformer_net_computes():
    torch.manual_seed(1)
    net = TransformerNet(16, 2).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    fast = InferenceNet(net).eval()
    _same(fast, net)


def test_inference_net_computes_what_a_fast_or_multi_style_network_computes():
    from stylenet.networks.transformer import set_mix

    torch.manual_seed(2)
    for net in (TransformerNet(8, 2, stem="space_to_depth", residual_channels=12), TransformerNet(8, 1, num_styles=3, stem="space_to_depth")):
        net.eval()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        fast = InferenceNet(net).eval()
        set_mix(net, torch.tensor([0.2, 0.5, 0.3]) if net.num_styles == 3 else None)
        set_mix(fast, torch.tensor([0.2, 0.5, 0.3]) if net.num_styles == 3 else None)
        _same(fast, net)


def _same(fast, net):
    for shape in [(2, 3, 36, 44), (1, 3, 16, 16), (1, 3, 64, 28)]:
        x = torch.rand(shape)
        with torch.inference_mode():
            assert torch.allclose(fast(x), net(x), atol=1e-4, rtol=1e-4)
