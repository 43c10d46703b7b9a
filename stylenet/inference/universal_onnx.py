"""Universal style transfer in onnxruntime: ``infer.py --style painting.jpg --backend onnxruntime[-int8]``.

Any painting goes through VGG19 up to relu4_1 and a decoder as large as the encoder: about 380 billion
multiply-adds at 1024×768, against 33 for the half-width trained network. On a CPU that is all convolution time,
so the runtime decides the speed (docs/universal.md, "In onnxruntime, float32 and int8", on 2 AVX-512 VNNI cores):

* ``onnxruntime``: the encoder (one graph per level, image → relu{k}_1) and each decoder exported and run by
  onnxruntime in float32; the same output as PyTorch (over 130 dB), 1.45× faster at 1024×768. What ``auto`` picks
  on a CPU.
* ``onnxruntime-int8``: the same graphs quantised statically (:func:`~stylenet.inference.quantize.quantize_feeds`:
  int8 weights per channel, uint8 activations). Activation ranges are calibrated on what these graphs see for
  *this* painting: the shipped calibration photos (:func:`~stylenet.inference.quantize.calibration_photos`) are
  stylised once in float with the call's painting, transform, alpha and palette, and every encoder and decoder
  input is kept (:class:`~stylenet.universal.runner.Recorder`). A decoder's input is the painting's statistics
  put on the photo, so its range is the painting's: calibrated on other paintings, a painting with stronger
  features would be clipped. About 1 s per graph, once per painting (and kept for the next photo). AdaIN at
  1024×768: 1.46 s against PyTorch's 5.81 s.

The paintings themselves are encoded in PyTorch, once (:meth:`UniversalStylizer.prepare_styles`); the transforms
(WCT, AdaIN, EFDM) and the palette run in PyTorch between the graphs.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from stylenet.inference.backends import has_onnxruntime, resolve_backend, run_session
from stylenet.inference.export import onnx_session, trace_onnx
from stylenet.inference.quantize import calibration_photos, quantize_feeds
from stylenet.universal.decoder import level_layer, size_multiple
from stylenet.universal.runner import Decode, Encode, Recorder, TorchRunner
from stylenet.universal.style_set import StyleSet
from stylenet.universal.stylizer import UniversalError, UniversalStylizer

KEEP_CALIBRATIONS = 4  # int8 graphs kept for this many painting settings (each set is the size of the float graphs / 4)
# Above this many pixels a photo runs in sessions without onnxruntime's memory arena. The arena grows by powers of
# two and keeps what it took: with VGG19 it held 3.3 GB at 1024×768, 10 GB at 2048×1536 and 19.7 GB at 3000×2000
# (PyTorch: 1.5, 3.5 and 5.9 GB). Without it a run allocates its own buffers: 4.1-5.3 GB at 3000×2000, and slower
# at 1024×768 (int8 2.8 s against 1.4 s), so small photos keep it (docs/universal.md, "In onnxruntime").
ARENA_MAX_PIXELS = 1024 * 1024


class _Encode(nn.Module):
    def __init__(self, encoder: nn.Module, layer: str):
        super().__init__()
        self.encoder, self.layer = encoder, layer

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(image, layers=[self.layer])[self.layer]


class OnnxRunner:
    """The stylizer's encoder and decoders as onnxruntime sessions (float32, or int8 calibrated per painting)."""

    def __init__(self, stylizer: UniversalStylizer, threads: int | None = None, int8: bool = False):
        if stylizer.device.type != "cpu":
            raise UniversalError("the onnxruntime backends run on the CPU; use --device cpu or --backend torch")
        if not has_onnxruntime():
            raise UniversalError("onnxruntime is not installed (a stylenet dependency): pip install onnxruntime, or --backend torch")
        self.stylizer, self.threads, self.int8 = stylizer, threads or torch.get_num_threads(), int8
        self.name = "onnxruntime-int8" if int8 else "onnxruntime"
        self._graphs: dict[str | int, bytes] = {}  # float32 ONNX per encoder layer and decoder level, exported on first use
        self._int8: OrderedDict[tuple, dict[str | int, bytes]] = OrderedDict()  # calibration key → quantised graphs
        self._sessions: dict[tuple, object] = {}  # (calibration key or None, part, arena) → session

    # ---- graphs ---------------------------------------------------------------------------------
    def _graph(self, part: str | int) -> bytes:
        """Encoder layer ``relu{k}_1`` (a str) or decoder level ``k`` (an int) as float32 ONNX."""
        if part not in self._graphs:
            encoder = self.stylizer.encoder
            if isinstance(part, str):
                module, args, name = _Encode(encoder, part).eval(), (torch.rand(1, 3, 64, 64),), "image"
            else:
                module, name = self.stylizer.decoders[part].eval(), "features"
                with torch.no_grad():
                    args = (encoder(torch.rand(1, 3, 64, 64), layers=[level_layer(part)])[level_layer(part)],)
            axes = {0: "batch", 2: "height", 3: "width"}
            self._graphs[part] = trace_onnx(module, args, [name], ["out"], {name: axes, "out": axes})
        return self._graphs[part]

    def _session(self, key: tuple | None, part: str | int, pixels: int):
        arena = pixels <= ARENA_MAX_PIXELS
        if (key, part, arena) not in self._sessions:
            model = self._int8[key][part] if key is not None else self._graph(part)
            self._sessions[(key, part, arena)] = onnx_session(model, threads=self.threads, memory_arena=arena)
        return self._sessions[(key, part, arena)]

    def _calibrate(self, styles: StyleSet, alpha: float, transform: str, palette: str | None) -> tuple:
        """The int8 graphs for this painting and these settings (quantised on first use, kept for the next photo)."""
        key = (styles.key, alpha, transform, palette)
        if key in self._int8:
            self._int8.move_to_end(key)
            return key
        recorder = Recorder(self.stylizer)
        quiet = logging.getLogger("stylenet.universal.stylizer")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # WCT's "few positions" warning is about the look of a 256 px photo, not its ranges
        try:
            for photo in calibration_photos():  # stylize_tensor runs under no_grad
                self.stylizer.stylize_tensor(torch.from_numpy(photo), styles, alpha=alpha, transform=transform,
                                             palette=palette, runner=recorder)
        finally:
            quiet.setLevel(level)
        inputs = {**{layer: ("image", xs) for layer, xs in recorder.encoded.items()},
                  **{k: ("features", fs) for k, fs in recorder.decoded.items()}}
        self._int8[key] = {part: quantize_feeds(self._graph(part), [{name: x.numpy()} for x in xs])
                           for part, (name, xs) in inputs.items()}
        if len(self._int8) > KEEP_CALIBRATIONS:
            old, _ = self._int8.popitem(last=False)
            self._sessions = {k: v for k, v in self._sessions.items() if k[0] != old}
        return key

    # ---- the runner -----------------------------------------------------------------------------
    def bind(self, styles: StyleSet, *, alpha: float, transform: str, palette: str | None) -> tuple[Encode, Decode]:
        key = self._calibrate(styles, alpha, transform, palette) if self.int8 else None

        def encode(x: torch.Tensor, layer: str) -> torch.Tensor:
            session = self._session(key, layer, x.shape[-2] * x.shape[-1])
            return torch.from_numpy(run_session(session, {"image": _array(x)}, x.shape))

        def decode(level: int, f: torch.Tensor) -> torch.Tensor:
            session = self._session(key, level, f.shape[-2] * f.shape[-1] * size_multiple(level) ** 2)
            return torch.from_numpy(run_session(session, {"features": _array(f)}, f.shape))

        return encode, decode


def _array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().float().cpu().numpy())


def use_backend(stylizer: UniversalStylizer, backend: str = "auto", threads: int | None = None) -> UniversalStylizer:
    """Run ``stylizer``'s encoder and decoders with ``backend`` (one of :data:`~stylenet.inference.backends.BACKENDS`;
    ``auto``: onnxruntime on a CPU when installed, else PyTorch), as a trained network's ``backend=`` does.
    Returns the stylizer. One :class:`UniversalError` line for a backend it cannot use."""
    backend = resolve_backend(backend, stylizer.device, threads, UniversalError)
    if backend.startswith("onnxruntime"):
        stylizer.runner = OnnxRunner(stylizer, threads, int8=backend == "onnxruntime-int8")
    else:
        stylizer.runner = TorchRunner(stylizer)
    return stylizer
