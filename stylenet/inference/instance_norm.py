"""Instance normalisation with statistics from elsewhere: record each InstanceNorm2d's input mean and
variance on one image, then normalise other images (tiles of it) with them. Tiling (Ulyanov et al.'s
instance norm makes independently stylised tiles drift apart, see :mod:`stylenet.inference.tiling`) and
the exported graph with statistics as inputs (:mod:`stylenet.inference.export`) share this code."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from stylenet.networks.transformer import ConditionalInstanceNorm2d

Stats = dict[nn.Module, tuple[torch.Tensor, torch.Tensor]]


def instance_norms(net: nn.Module) -> list[nn.InstanceNorm2d]:
    return [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]


@contextmanager
def record_instance_norm_stats(net: nn.Module) -> Iterator[Stats]:
    """While active, every forward pass stores each InstanceNorm2d's input mean/variance (1×C×1×1, float32)."""
    stats: Stats = {}

    def hook(module, args):
        x = args[0]
        if x.shape[0] != 1:
            raise ValueError("record the statistics on a single image (batch of 1)")
        var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
        stats[module] = (mean, var)

    handles = [m.register_forward_pre_hook(hook) for m in instance_norms(net)]
    try:
        yield stats
    finally:
        for h in handles:
            h.remove()


def frozen_affines(net: nn.Module, stats: Stats) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per InstanceNorm2d of ``net`` (module order), ``(scale, shift)`` with ``norm(x) = x * scale + shift``.

    The affine ``(x - mean) / sqrt(var + eps) * weight + bias`` with frozen ``mean``/``var`` folds
    into one multiply-add (float32, 1×C×1×1).
    """
    norms = instance_norms(net)
    missing = [m for m in norms if m not in stats]
    if missing:
        raise ValueError(f"no recorded statistics for {len(missing)} of {len(norms)} instance-norm layers")
    out = []
    for m in norms:
        mean, var = stats[m]
        scale = torch.rsqrt(var + m.eps)
        weight, bias = _affine(m)
        if weight is not None:
            scale = scale * weight.detach().float().view(1, -1, 1, 1)
        shift = -mean * scale
        if bias is not None:
            shift = shift + bias.detach().float().view(1, -1, 1, 1)
        out.append((scale, shift))
    return out


def _affine(m: nn.InstanceNorm2d) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """A norm's own scale and shift: its affine parameters, or a conditional norm's for the style chosen
    now (:func:`stylenet.networks.transformer.set_mix`; one mix, since the statistics are one image's)."""
    if isinstance(m, ConditionalInstanceNorm2d):
        weight, bias = m.style_affine()
        if weight.dim() != 1:
            raise ValueError("frozen statistics need one style mix for the whole batch, not one per sample")
        return weight, bias
    return (m.weight, m.bias) if m.affine else (None, None)


@contextmanager
def norms_as_affine(norms: list[nn.InstanceNorm2d], affines) -> Iterator[None]:
    """While active, norm ``i`` computes ``x * scale_i + shift_i`` for ``affines[i] = (scale_i, shift_i)``.

    Implemented by shadowing ``forward`` on the instances (restored on exit), so it works on any module
    tree that contains the norms (TransformerNet, InferenceNet, an exported graph whose affines are graph
    inputs) and needs no change to the network code.
    """
    try:
        for m, (scale, shift) in zip(norms, affines):
            # default arguments bind this norm's pair (a closure would see the loop's last one)
            m.forward = lambda x, scale=scale, shift=shift: torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))
        yield
    finally:
        for m in norms:
            m.__dict__.pop("forward", None)


def frozen_instance_norm(net: nn.Module, stats: Stats):
    """Make every InstanceNorm2d of ``net`` normalise with ``stats`` instead of its input's own statistics."""
    return norms_as_affine(instance_norms(net), frozen_affines(net, stats))
