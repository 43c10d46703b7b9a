"""int8 on the CPU: the exported ONNX graph quantised statically by onnxruntime's own quantiser.

Weights become int8 per output channel; activations uint8, their ranges calibrated on real photos (static
quantisation: the ranges are fixed before inference, so no per-image range pass runs). The QDQ format keeps
every instance norm, the tanh and the pixel shuffles in float, which onnxruntime has no int8 kernels for,
and quantises the convolutions around them. docs/performance.md measures what it buys and what it costs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stylenet.errors import StylenetError


class QuantizeError(StylenetError, ValueError):
    """int8 quantisation cannot run (no calibration photos, or onnxruntime's quantiser is missing)."""


def quantize_onnx(model: bytes, photos: Sequence[np.ndarray], *, inputs: dict[str, np.ndarray] | None = None) -> bytes:
    """``model`` (an ONNX graph with a float32 ``image`` input, N×3×H×W in [0, 1]) with int8 convolutions.

    ``photos``: the calibration set, each a float32 1×3×H×W array (real photos: ranges calibrated on noise
    clip the activations of real ones). ``inputs``: the graph's other inputs, fed with every photo (a
    multi-style graph's ``style`` weights)."""
    if not photos:
        raise QuantizeError("int8 quantisation needs at least one calibration photo")
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise QuantizeError("int8 needs onnxruntime's quantiser (pip install onnxruntime onnx)") from None

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([{"image": np.ascontiguousarray(p, dtype=np.float32), **(inputs or {})} for p in photos])

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = Path(tmp, "model.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(model)
        # Shape inference and graph cleanup first, as onnxruntime's quantisation guide asks.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return out.read_bytes()
