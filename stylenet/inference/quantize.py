"""int8 on the CPU (``--backend onnxruntime-int8``): the exported ONNX graph quantised statically by
onnxruntime's own quantiser.

Weights become int8 per output channel; activations uint8, their ranges calibrated on real photos (static
quantisation: the ranges are fixed before inference, so no per-image range pass runs). The QDQ format keeps
every instance norm, the tanh and the pixel shuffles in float, which onnxruntime has no int8 kernels for,
and quantises the convolutions around them. The calibration set ships with stylenet (:func:`calibration_photos`:
the five sample photos at 256 px), so the backend needs nothing from the user. docs/performance.md measures
what it buys (1.1-1.3× on 2 AVX2 cores, 1.3-1.5× on 2 AVX-512 VNNI cores) and what it costs (23-37 dB from
float by network and machine; the same teacher score on the wave).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stylenet.errors import StylenetError


class QuantizeError(StylenetError, ValueError):
    """int8 quantisation cannot run (no calibration photos, or onnxruntime's quantiser is missing)."""


CALIBRATION = Path(__file__).with_name("calibration")  # the shipped sample photos at 256 px (assets/SOURCES.md)


def calibration_photos() -> list[np.ndarray]:
    """The shipped calibration photos, each a float32 1×3×H×W array in [0, 1] padded to multiples of 4."""
    from stylenet.data.images import load_image
    from stylenet.networks.transformer import pad_to_multiple

    return [np.ascontiguousarray(pad_to_multiple(load_image(p)).numpy(), dtype=np.float32)
            for p in sorted(CALIBRATION.glob("*.jpg"))]


def quantize_onnx(model: bytes, photos: Sequence[np.ndarray], *, inputs: dict[str, np.ndarray] | Sequence[dict[str, np.ndarray]] | None = None,
                  reduce_range: bool = False) -> bytes:
    """``model`` (an ONNX graph with a float32 ``image`` input, N×3×H×W in [0, 1]) with int8 convolutions.

    ``photos``: the calibration set, each a float32 1×3×H×W array (real photos: ranges calibrated on noise
    clip the activations of real ones). ``inputs``: the graph's other inputs, fed with every photo (a
    multi-style graph's ``style`` weights); a list of them feeds every photo once with each (every style's
    ranges). ``reduce_range``: 7-bit weights, which onnxruntime's guide suggests "for better accuracy on
    non-VNNI CPUs" (AVX2's VPMADDUBSW clips uint8×int8 pair sums to int16); measured on an AVX-512 VNNI CPU
    it costs 0.1 dB (docs/performance.md), on an AVX2 one it has not been measured, so it is off unless asked."""
    if not photos:
        raise QuantizeError("int8 quantisation needs at least one calibration photo")
    extras = [inputs or {}] if inputs is None or isinstance(inputs, dict) else list(inputs)
    return quantize_feeds(model, [{"image": np.ascontiguousarray(p, dtype=np.float32), **extra} for p in photos for extra in extras],
                          reduce_range=reduce_range)


def quantize_feeds(model: bytes, feeds: Sequence[dict[str, np.ndarray]], *, reduce_range: bool = False) -> bytes:
    """``model`` with int8 convolutions, its activation ranges calibrated on ``feeds`` (each one run of the graph:
    input name → array). :func:`quantize_onnx` is this for a stylising graph and photos; the universal decoders
    calibrate on the features a painting gives (stylenet/inference/universal_onnx.py)."""
    if not feeds:
        raise QuantizeError("int8 quantisation needs at least one calibration input")
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise QuantizeError("int8 needs onnxruntime's quantiser (pip install onnxruntime onnx)") from None

    class Feeds(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = Path(tmp, "model.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(model)
        # Shape inference and graph cleanup first, as onnxruntime's quantisation guide asks.
        root = logging.getLogger()
        level = root.level
        # The quantiser logs a warning per instance-norm weight ("Axis 1 is out-of-range ... rank 1": a 1-D
        # weight has no channel axis, and it is left in float as intended) on the root logger: noise to a user.
        root.setLevel(logging.ERROR)
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(out), Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range)
        finally:
            root.setLevel(level)
        return out.read_bytes()
