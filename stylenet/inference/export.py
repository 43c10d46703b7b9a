"""Export a trained network for other runtimes (ONNX, TorchScript), each checked against PyTorch.

The exported graph is :class:`StylizeGraph`: the network in its fast inference form
(:class:`~stylenet.networks.inference.InferenceNet`) wrapped so that it takes and returns what a user has —

* input ``image``: float32, N×3×H×W, RGB in [0, 1], any H and W of at least 5 px (dynamic axes);
* output ``stylized``: the same shape, RGB in [0, 1] (clamped);
* a multi-style network (Dumoulin et al. 2017) takes a second input ``style``: float32, one weight per
  style in the checkpoint's order (one-hot for one style, a blend otherwise; see :class:`MixGraph`).

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
from stylenet.networks.transformer import SIZE_MULTIPLE, pad_to_multiple, set_mix

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


class MixGraph(StylizeGraph):
    """:class:`StylizeGraph` of a multi-style network: ``(image, style)`` → stylised, where ``style`` holds
    one weight per style (S floats) that blends the conditional instance norms' scales and shifts."""

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        set_mix(self.net, style)
        return super().forward(image)


def num_styles(net: nn.Module) -> int:
    return int(getattr(net, "config", {}).get("num_styles", 1))


class FrozenStatsGraph(nn.Module):
    """:class:`StylizeGraph` whose instance norms take their statistics as inputs, for tiled inference.

    Inputs: ``image`` and, per InstanceNorm2d in module order, ``scale{i}`` and ``shift{i}`` (1×C×1×1,
    from :func:`stylenet.inference.instance_norm.frozen_affines`): each norm computes ``x * scale + shift``.
    A multi-style network needs no style input here: the chosen style's scales and shifts are folded into
    the affines, which are computed for the style the statistics were recorded with.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.graph = StylizeGraph(net)
        self._norms = [m for m in self.graph.modules() if isinstance(m, nn.InstanceNorm2d)]

    def forward(self, image: torch.Tensor, *affines: torch.Tensor) -> torch.Tensor:
        with norms_as_affine(self._norms, zip(affines[0::2], affines[1::2])):
            return self.graph(image)


def _graph(net: nn.Module) -> StylizeGraph:
    cls = MixGraph if num_styles(net) > 1 else StylizeGraph
    return cls(copy.deepcopy(net).float().cpu().eval()).eval().requires_grad_(False)


def _example_inputs(net: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The graph's inputs for ``image``: a multi-style graph also takes its style weights (the first style)."""
    s = num_styles(net)
    return (image,) if s == 1 else (image, torch.nn.functional.one_hot(torch.tensor(0), s).float())


def onnx_bytes(net: nn.Module, frozen_stats: bool = False) -> bytes:
    """The ONNX model (opset 17, dynamic batch/height/width) as bytes; see :class:`FrozenStatsGraph`."""
    graph = _graph(net)
    args: tuple[torch.Tensor, ...] = (torch.rand(1, 3, 32, 32),)
    names = ["image"]
    if isinstance(graph, MixGraph) and not frozen_stats:
        args, names = _example_inputs(net, args[0]), ["image", "style"]
    if frozen_stats:
        graph = FrozenStatsGraph(graph.net).eval()
        for i, m in enumerate(graph._norms):
            args += (torch.ones(1, m.num_features, 1, 1), torch.zeros(1, m.num_features, 1, 1))
            names += [f"scale{i}", f"shift{i}"]
    return trace_onnx(graph, args, names, ["stylized"], {"image": {0: "batch", 2: "height", 3: "width"},
                                                          "stylized": {0: "batch", 2: "height", 3: "width"}})


def trace_onnx(module: nn.Module, args: tuple[torch.Tensor, ...], input_names: list[str], output_names: list[str],
               dynamic_axes: dict[str, dict[int, str]]) -> bytes:
    """``module`` traced to ONNX (opset :data:`ONNX_OPSET`, constants folded) as bytes: the one exporter call every
    graph stylenet runs in onnxruntime goes through (the networks here, the universal encoder and decoders)."""
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
            torch.onnx.export(module, args, f, dynamo=False, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=ONNX_OPSET, do_constant_folding=True)
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
        styles = [st.get("name") for st in meta.get("styles") or []]
        entries = {"stylenet": json.dumps(meta, default=str), "style": ",".join(styles) if styles else str(style or ""),
                   "input": "float32 N×3×H×W RGB in [0, 1]" + (f"; style: float32 [{len(styles)}] weights for {', '.join(styles)}" if styles else "")}
        for k, v in entries.items():
            prop = model.metadata_props.add()
            prop.key, prop.value = k, v
        data = model.SerializeToString()
    return atomic_write_bytes(data, Path(path))


def export_torchscript(net: nn.Module, path: str | os.PathLike) -> Path:
    """Write a scripted :class:`StylizeGraph` atomically (``torch.jit.load`` it; no stylenet needed).
    A multi-style network's :class:`MixGraph` is traced instead (its style weights reach the conditional
    norms through an attribute, which scripting cannot follow); its padding still follows the input size."""
    f = io.BytesIO()
    graph = _graph(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still the format C++/LibTorch loads
        if isinstance(graph, MixGraph):
            torch.jit.save(torch.jit.trace(graph, _example_inputs(net, torch.rand(1, 3, 36, 44)), check_trace=False), f)
        else:
            torch.jit.save(torch.jit.script(graph), f)
    return atomic_write_bytes(f.getvalue(), Path(path))


def onnx_session(model: bytes | str | os.PathLike, threads: int | None = None, memory_arena: bool = True):
    """An onnxruntime CPU session with ``threads`` intra-op threads (None: onnxruntime's default).
    ``memory_arena=False``: every run allocates and frees its own buffers instead of keeping them in onnxruntime's
    arena, which grows by powers of two and never shrinks: slower, but the memory of a large image is returned
    (measured with VGG19 at 3000×2000: 19.7 GB resident with the arena, 4.5 GB without; docs/universal.md)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("onnxruntime is not installed (a stylenet dependency); pip install onnxruntime") from None
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    if not memory_arena:
        so.enable_cpu_mem_arena = False
        so.enable_mem_pattern = False  # patterns plan buffers for a shape inside the arena: nothing to plan without it
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def reference_output(net: nn.Module, image: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
    """What PyTorch computes for the exported graph's contract (float32, CPU)."""
    args = _example_inputs(net, image.float().cpu()) if style is None else (image.float().cpu(), style.float())
    with torch.inference_mode():
        return _graph(net)(*args)


def _parity_styles(net: nn.Module) -> list[torch.Tensor | None]:
    """The style inputs a parity check tries: none for one style; each style alone and an even blend for several."""
    s = num_styles(net)
    return [None] if s == 1 else [*torch.eye(s), torch.full((s,), 1.0 / s)]


def onnx_parity(net: nn.Module, path: str | os.PathLike, image: torch.Tensor) -> float:
    """Max |ONNX Runtime − PyTorch| on ``image`` (1×3×H×W in [0, 1]), over every style and a blend."""
    session, worst = onnx_session(path), 0.0
    for style in _parity_styles(net):
        feeds = {"image": image.float().cpu().numpy()}
        if style is not None:
            feeds["style"] = style.numpy()
        out = session.run(None, feeds)[0]
        worst = max(worst, float(np.abs(out - reference_output(net, image, style).numpy()).max()))
    return worst


def torchscript_parity(net: nn.Module, path: str | os.PathLike, image: torch.Tensor) -> float:
    """Max |TorchScript − PyTorch| on ``image`` (1×3×H×W in [0, 1]), over every style and a blend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(path), map_location="cpu")
    worst = 0.0
    for style in _parity_styles(net):
        with torch.inference_mode():
            out = loaded(image.float().cpu()) if style is None else loaded(image.float().cpu(), style)
        worst = max(worst, float((out - reference_output(net, image, style)).abs().max()))
    return worst
