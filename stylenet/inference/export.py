"""Export a trained network for other runtimes (ONNX, TorchScript), each checked against PyTorch.

The exported graph is :class:`StylizeGraph`: the network in its fast inference form
(:class:`~stylenet.networks.inference.InferenceNet`) wrapped so that it takes and returns what a user has —

* input ``image``: float32, N×3×H×W, RGB in [0, 1], any H and W of at least 5 px (dynamic axes);
* output ``stylized``: the same shape, RGB in [0, 1] (clamped).

Inside, the image is reflection-padded to a multiple of 4 (the two stride-2 stages need it) and the
output cropped back, so callers need no pre- or post-processing beyond the [0, 1] scaling.
ONNX uses the TorchScript-based exporter (``dynamo=False``): it works on every torch this package
supports (>= 2.3) and needs no ``onnxscript``. See docs/inference.md for running the file.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stylenet.errors import StylenetError
from stylenet.files import atomic_write_bytes
from stylenet.inference.instance_norm import norms_as_affine
from stylenet.networks.inference import InferenceNet
from stylenet.networks.transformer import SIZE_MULTIPLE, pad_to_multiple

ONNX_OPSET = 17
MIN_SIDE = 5  # smallest H or W the exported graphs accept (the 9×9 reflection pad needs > 4 px once padded to ×4)
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt", "weights": ".weights.pt"}


class ExportError(StylenetError, ValueError):
    """An export that cannot be done (missing onnx/onnxruntime, unwritable path, failed parity)."""


class StylizeGraph(nn.Module):
    """[0, 1] RGB in → [0, 1] RGB out, any size: pad to a multiple of 4, run, crop, clamp."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net if isinstance(net, InferenceNet) else InferenceNet(net)
        self.multiple = SIZE_MULTIPLE  # an attribute: TorchScript cannot read module globals

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[2], image.shape[3]
        # Reflection always: a traced graph cannot choose its padding per size (run_any_size does, below 16 px).
        y = self.net(pad_to_multiple(image, self.multiple, 0, "reflect"))
        return y[:, :, :h, :w].clamp(0, 1)


class FrozenStatsGraph(nn.Module):
    """:class:`StylizeGraph` whose instance norms take their statistics as inputs, for tiled inference.

    Inputs: ``image`` and, per InstanceNorm2d in module order, ``scale{i}`` and ``shift{i}`` (1×C×1×1,
    from :func:`stylenet.inference.instance_norm.frozen_affines`): each norm computes ``x * scale + shift``.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.graph = StylizeGraph(net)
        self._norms = [m for m in self.graph.modules() if isinstance(m, nn.InstanceNorm2d)]

    def forward(self, image: torch.Tensor, *affines: torch.Tensor) -> torch.Tensor:
        with norms_as_affine(self._norms, zip(affines[0::2], affines[1::2])):
            return self.graph(image)


def _graph(net: nn.Module) -> StylizeGraph:
    return StylizeGraph(copy.deepcopy(net).float().cpu().eval()).eval().requires_grad_(False)


def onnx_bytes(net: nn.Module, frozen_stats: bool = False) -> bytes:
    """The ONNX model (opset 17, dynamic batch/height/width) as bytes; see :class:`FrozenStatsGraph`."""
    graph = _graph(net)
    args: tuple[torch.Tensor, ...] = (torch.rand(1, 3, 32, 32),)
    names = ["image"]
    if frozen_stats:
        graph = FrozenStatsGraph(graph.net).eval()
        for i, m in enumerate(graph._norms):
            args += (torch.ones(1, m.num_features, 1, 1), torch.zeros(1, m.num_features, 1, 1))
            names += [f"scale{i}", f"shift{i}"]
    f = io.BytesIO()
    threads = torch.get_num_threads()
    # Tracing runs the network on a tiny input: one thread avoids per-op thread synchronisation, which
    # dominates at that size (0.3 s instead of 1.7 s measured on a busy 2-core machine).
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            # The TorchScript-based exporter is deprecated in favour of dynamo (which needs onnxscript);
            # its other warnings are about instance_norm's training flag and constant folding, both harmless.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                args,
                f,
                dynamo=False,
                input_names=names,
                output_names=["stylized"],
                dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "stylized": {0: "batch", 2: "height", 3: "width"}},
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
            )
    finally:
        torch.set_num_threads(threads)
    return f.getvalue()


def export_onnx(net: nn.Module, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write the ONNX file atomically; the style metadata goes into the model's metadata_props."""
    data = onnx_bytes(net)
    if meta:
        import onnx

        model = onnx.load_from_string(data)
        style = (meta.get("style") or {}).get("name")
        entries = {"stylenet": json.dumps(meta, default=str), "style": str(style or ""), "input": "float32 N×3×H×W RGB in [0, 1]"}
        for k, v in entries.items():
            prop = model.metadata_props.add()
            prop.key, prop.value = k, v
        data = model.SerializeToString()
    return atomic_write_bytes(data, Path(path))


def export_torchscript(net: nn.Module, path: str | os.PathLike) -> Path:
    """Write a scripted :class:`StylizeGraph` atomically (``torch.jit.load`` it; no stylenet needed)."""
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still the format C++/LibTorch loads
        torch.jit.save(torch.jit.script(_graph(net)), f)
    return atomic_write_bytes(f.getvalue(), Path(path))


def onnx_session(model: bytes | str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session with ``threads`` intra-op threads (None: onnxruntime's default)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("onnxruntime is not installed (a stylenet dependency); pip install onnxruntime") from None
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def reference_output(net: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """What PyTorch computes for the exported graph's contract (float32, CPU)."""
    with torch.inference_mode():
        return _graph(net)(image.float().cpu())


def onnx_parity(net: nn.Module, path: str | os.PathLike, image: torch.Tensor) -> float:
    """Max |ONNX Runtime − PyTorch| on ``image`` (1×3×H×W in [0, 1])."""
    out = onnx_session(path).run(None, {"image": image.float().cpu().numpy()})[0]
    return float(np.abs(out - reference_output(net, image).numpy()).max())


def torchscript_parity(net: nn.Module, path: str | os.PathLike, image: torch.Tensor) -> float:
    """Max |TorchScript − PyTorch| on ``image`` (1×3×H×W in [0, 1])."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.inference_mode():
        out = loaded(image.float().cpu())
    return float((out - reference_output(net, image)).abs().max())
