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
    for shape in [(2, 3, 36, 44), (1, 3, 16, 16), (1, 3, 64, 28)]:
        x = torch.rand(shape)
        with torch.inference_mode():
            assert torch.allclose(fast(x), net(x), atol=1e-4, rtol=1e-4)
