"""The backends (stylenet/inference/backends.py): onnxruntime's own exceptions become the built-in ones the
torch path raises, so an out-of-memory is handled (infer.py retries one image at a time) instead of a traceback."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_meta
from helpers import tiny_net

from stylenet.inference.stylizer import Stylizer

# onnxruntime's exceptions (onnxruntime.capi.onnxruntime_pybind11_state.*) derive from Exception only.
OrtError = type("RuntimeException", (Exception,), {"__module__": "onnxruntime.capi.onnxruntime_pybind11_state"})


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnxruntime")
    return Stylizer(tiny_net(), tiny_meta(), device="cpu", backend="onnxruntime")


def _failing(ort, monkeypatch, error):
    def run(*args, **kwargs):
        raise error

    monkeypatch.setattr(ort.runner.session, "run", run, raising=False)


def test_an_out_of_memory_is_a_memory_error_naming_the_batch(ort, monkeypatch):
    _failing(ort, monkeypatch, OrtError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer of size 123\nmore"))
    with pytest.raises(MemoryError, match=r"onnxruntime ran out of memory on a 2x3x40x48 batch \(\[ONNXRuntimeError\].*size 123\)$"):
        ort.stylize_tensor(torch.rand(2, 3, 40, 48))


def test_other_onnxruntime_errors_are_runtime_errors_and_others_pass_through(ort, monkeypatch):
    _failing(ort, monkeypatch, OrtError("[ONNXRuntimeError] : 1 : FAIL : something else"))
    with pytest.raises(RuntimeError, match=r"onnxruntime failed on a 1x3x40x48 batch \(\[ONNXRuntimeError\] : 1 : FAIL"):
        ort.stylize_tensor(torch.rand(1, 3, 40, 48))
    _failing(ort, monkeypatch, KeyError("a bug of ours stays a bug"))
    with pytest.raises(KeyError):
        ort.stylize_tensor(torch.rand(1, 3, 40, 48))


def test_works_again_after_a_failure(ort):
    assert ort.stylize_tensor(torch.rand(1, 3, 40, 48)).shape == (1, 3, 40, 48)
