"""How a :class:`~stylenet.inference.stylizer.Stylizer` runs its network: eager PyTorch (any device, fp16 on
CUDA) or onnxruntime (the CPU; 8-38 % faster there from 512 px up, about a tie at 256 px: docs/inference.md). Both take a float B×3×h×w
batch of any size and return the raw network output as float32; ``run_frozen`` runs one tile with the
instance-norm statistics of the whole image (:mod:`stylenet.inference.instance_norm`)."""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
from torch import nn

from stylenet.errors import first_line
from stylenet.inference.instance_norm import Stats, frozen_affines, frozen_instance_norm
from stylenet.networks.inference import InferenceNet
from stylenet.networks.transformer import TransformerNet, run_any_size, set_mix

RUNTIMES = ("torch", "onnxruntime", "onnxruntime-int8")  # what runs a network: a score or a bench row names one
BACKENDS = ("auto", *RUNTIMES)
ORT_MIN_SIDE = 16  # below this run_any_size pads differently from the exported graph; use torch there


def has_onnxruntime() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_backend(backend: str, device: torch.device, threads: int | None, error: type[Exception]) -> str:
    """``backend`` checked and ``auto`` resolved for ``device`` (onnxruntime on a CPU when installed, else torch):
    the one rule of a trained network's :class:`~stylenet.inference.stylizer.Stylizer` and of the universal decoders
    (:func:`~stylenet.inference.universal_onnx.use_backend`). A bad backend, an onnxruntime backend off the CPU or
    fewer than one thread is one ``error`` line."""
    if backend not in BACKENDS:
        raise error(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if threads is not None and threads < 1:
        raise error(f"threads must be at least 1, got {threads}")
    if backend == "auto":
        return "onnxruntime" if device.type == "cpu" and has_onnxruntime() else "torch"
    if backend.startswith("onnxruntime") and device.type != "cpu":
        raise error(f"the {backend} backend runs on the CPU; use --device cpu or --backend torch")
    return backend


class TorchBackend:
    """The network in its faster, equivalent :class:`InferenceNet` form under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, source: TransformerNet, device: torch.device, dtype: torch.dtype):
        self.net: nn.Module = InferenceNet(source).to(device, dtype).eval().requires_grad_(False)
        self.device, self.dtype = device, dtype
        self.mix: torch.Tensor | None = None

    def set_mix(self, mix: torch.Tensor | None) -> None:
        """A multi-style network's style weights (S floats, :func:`~stylenet.networks.transformer.set_mix`)."""
        self.mix = None if mix is None else mix.detach().float().cpu()
        set_mix(self.net, None if mix is None else self.mix.to(self.device))

    def run_eager(self, x: torch.Tensor) -> torch.Tensor:
        """The torch network itself (also where tiling records the statistics, through its hooks)."""
        with torch.inference_mode():
            return run_any_size(self.net, x.to(self.device, self.dtype)).float()

    run = run_eager

    def run_frozen(self, x: torch.Tensor, stats: Stats) -> torch.Tensor:
        with frozen_instance_norm(self.net, stats):
            return self.run_eager(x)


class OnnxBackend(TorchBackend):
    """The exported graph in onnxruntime (CPU). Sides under :data:`ORT_MIN_SIDE` and the statistics pass of
    tiling run on the torch network it keeps (the same weights)."""

    name = "onnxruntime"

    def __init__(self, source: TransformerNet, threads: int, int8: bool = False):
        from stylenet.inference.export import onnx_bytes, onnx_session  # onnx and onnxruntime load on first use

        super().__init__(source, torch.device("cpu"), torch.float32)
        self._source, self._threads = source, threads
        graph = onnx_bytes(source)
        if int8:
            from stylenet.inference.quantize import calibration_photos, quantize_onnx

            # Calibrated once per network on the shipped photos, with every style of a multi-style network.
            styles = getattr(source, "num_styles", 1)
            feeds = [{"style": row} for row in np.eye(styles, dtype=np.float32)] if styles > 1 else None
            graph = quantize_onnx(graph, calibration_photos(), inputs=feeds)
            self.name = "onnxruntime-int8"
        self.session = onnx_session(graph, threads=threads)
        # The graph with the statistics as inputs (tiles), built on first use: most runs never tile. It stays
        # float32 with the int8 backend: its statistics inputs would need their own calibration.
        self.tile_session = None

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < ORT_MIN_SIDE:
            return self.run_eager(x)
        # The exported graph pads exactly as run_any_size does for sides >= 16 and clamps (as the Stylizer does).
        return torch.from_numpy(run_session(self.session, self._feeds(x), x.shape))

    def _feeds(self, x: torch.Tensor) -> dict:
        feeds = {"image": x.detach().float().cpu().numpy()}
        if self.mix is not None:  # a multi-style graph takes the style weights as an input
            feeds["style"] = self.mix.numpy()
        return feeds

    def run_frozen(self, x: torch.Tensor, stats: Stats) -> torch.Tensor:
        if min(x.shape[-2:]) < ORT_MIN_SIDE:
            return super().run_frozen(x, stats)
        if self.tile_session is None:
            from stylenet.inference.export import onnx_bytes, onnx_session

            self.tile_session = onnx_session(onnx_bytes(self._source, frozen_stats=True), threads=self._threads)
        feeds = {"image": x.detach().float().cpu().numpy()}
        for i, (scale, shift) in enumerate(frozen_affines(self.net, stats)):
            feeds[f"scale{i}"], feeds[f"shift{i}"] = scale.cpu().numpy(), shift.cpu().numpy()
        return torch.from_numpy(run_session(self.tile_session, feeds, x.shape))


def run_session(session, feeds: dict, shape) -> np.ndarray:
    """``session.run``, with onnxruntime's errors as the built-in ones torch's path raises. Its exceptions derive
    from Exception only, so an out-of-memory escaped every handler as a traceback; as MemoryError (or
    RuntimeError) infer.py retries the batch one image at a time and reports the image that does not fit."""
    try:
        return session.run(None, feeds)[0]
    except Exception as e:
        if type(e).__module__.split(".")[0] != "onnxruntime":
            raise
        what = f"{shape[0]}x{shape[1]}x{shape[2]}x{shape[3]} batch" if len(shape) == 4 else "input"
        msg = first_line(e, 160)
        if any(k in msg.lower() for k in ("allocate", "bad_alloc", "out of memory")):
            raise MemoryError(f"onnxruntime ran out of memory on a {what} ({msg})") from None
        raise RuntimeError(f"onnxruntime failed on a {what} ({msg})") from None
