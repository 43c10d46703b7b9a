"""pytorch/examples' fast_neural_style networks as stylenet networks: bring your own ``.pth``/``.model``.

Their ``neural_style.py`` saves ``transformer.state_dict()``, a bare state_dict (no metadata) of their
``TransformerNet``: the same architecture as ours (Johnson et al. 2016 with instance norm and nearest ×2
upsampling before a convolution; reflection padding; no ReLU after the residual sum), under other names:

    conv1.conv2d, in1, conv2.conv2d, in2, conv3.conv2d, in3      → downsample.{0,1,2}: conv, norm
    res{i}.conv1.conv2d, res{i}.in1, res{i}.conv2.conv2d, res{i}.in2  → residuals.{i-1}.body.{0,1,3,4}
    deconv1.conv2d, in4, deconv2.conv2d, in5                       → upsample.{0,1}: conv, norm
    deconv3.conv2d                                                 → upsample.2 (the last 9×9 conv)

Two things differ, and the conversion folds both into the weights, exactly (both layers are linear):
their pixels are 0–255 (ours [0, 1]): ``conv1`` is multiplied by 255 so it sees what theirs saw; and their
output has no nonlinearity, its pixels being clipped to 0–255 when saved: ``deconv3`` is divided by 255
and the network ends with ``output="clamp"`` (clip into [0, 1]) instead of our scaled tanh. The converted
network paints what theirs paints, up to float error and their truncation to 8 bits.

Files saved by old PyTorch versions hold ``running_mean``/``running_var`` (and ``num_batches_tracked``)
of the instance norms, which their own loader deletes; so does this one. The file is only ever read with
``torch.load(weights_only=True)`` (:func:`stylenet.networks.checkpoint.load_file`); the architecture is
inferred from the tensors' shapes and every shape is checked before a network is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from stylenet.errors import StylenetError

EXAMPLES = "pytorch/examples fast_neural_style"
# Their loader drops these (neural_style.py: `re.search(r'in\d+\.running_(mean|var)$', k)`).
_RUNNING = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")
_RES = re.compile(r"^res(\d+)\.")
EXPECTED = ("conv1.conv2d.weight, in1.weight, ..., res1.conv1.conv2d.weight, ..., deconv3.conv2d.bias: "
            "the state_dict of their TransformerNet, as neural_style.py saves it")


class ExamplesFormatError(StylenetError, ValueError):
    """A state_dict that is not pytorch/examples' TransformerNet's; the message says what differs."""


def looks_like_examples(sd: Mapping) -> bool:
    """Whether a flat state_dict uses pytorch/examples' names (``conv1.conv2d.weight``), right or wrong."""
    return "conv1.conv2d.weight" in sd or any(_RES.match(k) for k in sd if isinstance(k, str))


def _layout(c: int, blocks: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Their key → (our key, shape) for a network of ``c`` base channels and ``blocks`` residual blocks."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {}

    def conv(theirs: str, ours: str, c_out: int, c_in: int, k: int) -> None:
        out[f"{theirs}.conv2d.weight"] = (f"{ours}.weight", (c_out, c_in, k, k))
        out[f"{theirs}.conv2d.bias"] = (f"{ours}.bias", (c_out,))

    def norm(theirs: str, ours: str, ch: int) -> None:
        out[f"{theirs}.weight"] = (f"{ours}.weight", (ch,))
        out[f"{theirs}.bias"] = (f"{ours}.bias", (ch,))

    for i, (c_in, c_out, k) in enumerate([(3, c, 9), (c, 2 * c, 3), (2 * c, 4 * c, 3)]):
        conv(f"conv{i + 1}", f"downsample.{i}.0.1", c_out, c_in, k)
        norm(f"in{i + 1}", f"downsample.{i}.1", c_out)
    for i in range(blocks):
        conv(f"res{i + 1}.conv1", f"residuals.{i}.body.0.1", 4 * c, 4 * c, 3)
        norm(f"res{i + 1}.in1", f"residuals.{i}.body.1", 4 * c)
        conv(f"res{i + 1}.conv2", f"residuals.{i}.body.3.1", 4 * c, 4 * c, 3)
        norm(f"res{i + 1}.in2", f"residuals.{i}.body.4", 4 * c)
    for i, (c_in, c_out) in enumerate([(4 * c, 2 * c), (2 * c, c)]):
        conv(f"deconv{i + 1}", f"upsample.{i}.1.1", c_out, c_in, 3)
        norm(f"in{i + 4}", f"upsample.{i}.2", c_out)
    conv("deconv3", "upsample.2.1", 3, c, 9)
    return out


def _keys(names) -> str:
    names = sorted(names)
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def convert_examples(sd: Mapping[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(arch, state_dict)`` of the stylenet :class:`~stylenet.networks.transformer.TransformerNet` that
    paints what pytorch/examples' network ``sd`` paints. One :class:`ExamplesFormatError` line for anything
    that is not such a state_dict (missing or extra keys, a shape that does not fit, not float)."""
    sd = {k: v for k, v in sd.items() if not _RUNNING.search(k)}
    first = sd.get("conv1.conv2d.weight")
    if first is None or first.dim() != 4 or tuple(first.shape[1:]) != (3, 9, 9):
        got = "no conv1.conv2d.weight" if first is None else f"conv1.conv2d.weight of shape {tuple(first.shape)}"
        raise ExamplesFormatError(f"{got}, where pytorch/examples' network has one of shape (channels, 3, 9, 9); expected {EXPECTED}")
    c = int(first.shape[0])
    blocks = max((int(m.group(1)) for k in sd if (m := _RES.match(k))), default=0)
    layout = _layout(c, blocks)
    missing, extra = set(layout) - set(sd), set(sd) - set(layout)
    if missing or extra:
        what = "; ".join(part for part in (f"missing {_keys(missing)}" if missing else "",
                                           f"unexpected {_keys(extra)}" if extra else "") if part)
        raise ExamplesFormatError(f"not pytorch/examples' TransformerNet ({what}); expected {EXPECTED}")
    for theirs, (_, shape) in layout.items():
        t = sd[theirs]
        if tuple(t.shape) != shape:
            raise ExamplesFormatError(f"{theirs} has shape {tuple(t.shape)}; pytorch/examples' TransformerNet with {c} base "
                                      f"channels (from conv1.conv2d.weight) has {shape} there")
        if not t.is_floating_point():
            raise ExamplesFormatError(f"{theirs} holds {t.dtype}, not floating-point weights; expected {EXPECTED}")
    out = {ours: sd[theirs].detach().float() for theirs, (ours, _) in layout.items()}
    out["downsample.0.0.1.weight"] = out["downsample.0.0.1.weight"] * 255.0  # their input is 0–255
    out["upsample.2.1.weight"] = out["upsample.2.1.weight"] / 255.0  # and so is their output
    out["upsample.2.1.bias"] = out["upsample.2.1.bias"] / 255.0
    arch = {"name": "TransformerNet", "base_channels": c, "num_residual_blocks": blocks, "output": "clamp"}
    return arch, out
