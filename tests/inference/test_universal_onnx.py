"""Universal style transfer in onnxruntime (stylenet/inference/universal_onnx.py): float32 is PyTorch's output, int8
stays within a measured distance of it on real photos, and its calibration follows the painting's content."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from helpers import write_universal

from stylenet import zoo
from stylenet.data.images import load_image
from stylenet.inference.universal_onnx import OnnxRunner, use_backend
from stylenet.universal.runner import TorchRunner
from stylenet.universal.stylizer import UniversalError, UniversalStylizer

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]
STYLES = ROOT / "assets" / "styles"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


@pytest.fixture(scope="module")
def shipped() -> UniversalStylizer:
    """The shipped AdaIN decoder on the real VGG19 (stylenet/zoo/adain)."""
    return UniversalStylizer.from_checkpoint(zoo.resolve("adain"), device="cpu")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """A real photo none of the calibration inputs is: a crop of a shipped sample, at another scale."""
    x = load_image(ROOT / "assets" / "sample" / "astronaut.jpg", size=320)
    return x[..., 40:240, 60:300]


def test_onnxruntime_float32_gives_pytorchs_encoder_and_decoders_at_every_level_and_pytorchs_stylisation(tmp_path):
    # One stylizer, two runners: a test file's VGG has random weights, drawn anew by every stylizer built
    u = UniversalStylizer.from_checkpoint(write_universal(tmp_path / "u.ckpt", levels=(1, 2, 3, 4)), device="cpu")
    pytorch = u.runner
    use_backend(u, "onnxruntime", threads=1)
    assert u.backend == "onnxruntime" and pytorch.name == "torch"
    painting = torch.rand(3, 48, 40)
    styles = u.prepare_styles(painting)
    bind = dict(alpha=1.0, transform="wct", palette=None)
    (te, td), (oe, od) = pytorch.bind(styles, **bind), u.runner.bind(styles, **bind)
    image = torch.rand(1, 3, 40, 56)  # not the 64 px the graphs were traced at
    for k in (1, 2, 3, 4):
        layer = f"relu{k}_1"
        a, b = te(image, layer), oe(image, layer)
        assert a.shape == b.shape and (a - b).abs().max() <= 1e-4 * a.abs().max(), layer
        f = a * torch.rand_like(a)
        assert torch.allclose(td(k, f), od(k, f), atol=1e-5), k
    # whole stylisations, every transform and both palettes
    x = torch.rand(3, 40, 52)
    for transform in ("wct", "adain", "efdm"):
        a = u.stylize_tensor(x, styles, transform=transform, palette="both", runner=pytorch)
        b = u.stylize_tensor(x, styles, transform=transform, palette="both")
        assert a.shape == b.shape == x.shape and (a - b).abs().max() < 1e-3, transform


def test_int8_paints_within_the_measured_distance_of_float_on_a_photo_it_was_not_calibrated_on(shipped, photo):
    # docs/universal.md measured int8 at 31-32 dB PSNR from float at 1024 px (AdaIN, the wave). The bound is well
    # below that and well above a broken quantisation: the photo itself against the painted image is under 15 dB.
    float_out = shipped.stylize(photo, STYLES / "the_scream.jpg", transform="adain", palette="after")
    int8 = use_backend(UniversalStylizer.from_checkpoint(zoo.resolve("adain"), device="cpu"), "onnxruntime-int8")
    out = int8.stylize(photo, STYLES / "the_scream.jpg", transform="adain", palette="after")
    assert psnr(out, float_out) > 25
    assert psnr(photo, float_out) < 15  # what "painted" is against: the bound above means something


def test_int8_calibrates_once_per_painting_by_content_not_by_name(tmp_path, caplog):
    u = use_backend(UniversalStylizer.from_checkpoint(write_universal(tmp_path / "u.ckpt", levels=(4,)), device="cpu"),
                    "onnxruntime-int8", threads=1)
    runner = u.runner
    assert isinstance(runner, OnnxRunner) and runner.name == "onnxruntime-int8"
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 30, 30)).save(a)
    Image.effect_noise((40, 40), 60).convert("RGB").save(b)
    x = torch.rand(3, 32, 32)
    with caplog.at_level(logging.WARNING):
        u.stylize(x, a, transform="adain")
        u.stylize(x, a, transform="adain")  # the same painting: its graphs are kept
        assert len(runner._int8) == 1
        renamed = tmp_path / "renamed.png"
        renamed.write_bytes(a.read_bytes())
        u.stylize(x, renamed, transform="adain")  # another name, the same content: no new calibration
        assert len(runner._int8) == 1
        u.stylize(x, b, transform="adain")  # another painting: calibrated on its own features
        u.stylize(x, a, transform="adain", alpha=0.5)  # and another strength: other decoder inputs
        assert len(runner._int8) == 3
    assert "positions" not in caplog.text  # calibrating on small photos does not warn the user about them


def test_backends_are_checked_in_one_line_and_torch_comes_back(tmp_path):
    u = UniversalStylizer.from_checkpoint(write_universal(tmp_path / "u.ckpt", levels=(4,)), device="cpu")
    with pytest.raises(UniversalError, match="unknown backend 'tensorrt'; choose from auto, torch, onnxruntime, onnxruntime-int8"):
        use_backend(u, "tensorrt")
    with pytest.raises(UniversalError, match="threads must be at least 1, got 0"):
        use_backend(u, "onnxruntime", threads=0)
    assert use_backend(u, "auto").backend == "onnxruntime"  # on a CPU, as for a trained network
    assert isinstance(use_backend(u, "torch").runner, TorchRunner)


def test_photos_over_the_arena_bound_run_without_onnxruntimes_memory_arena_and_paint_the_same(tmp_path, monkeypatch):
    import stylenet.inference.universal_onnx as universal_onnx

    u = use_backend(UniversalStylizer.from_checkpoint(write_universal(tmp_path / "u.ckpt", levels=(4,)), device="cpu"),
                    "onnxruntime", threads=1)
    styles = u.prepare_styles(torch.rand(3, 40, 40))
    x = torch.rand(3, 32, 48)
    small = u.stylize_tensor(x, styles, transform="adain")
    monkeypatch.setattr(universal_onnx, "ARENA_MAX_PIXELS", 32 * 48 - 1)  # this photo is now "large"
    large = u.stylize_tensor(x, styles, transform="adain")
    assert torch.equal(small, large)
    assert {arena for (_, _, arena) in u.runner._sessions} == {True, False}
