"""Inference: the Stylizer API (stylenet/inference/stylizer.py) and the infer.py command (stylenet/cli/infer.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_meta
from helpers import photo, tiny_net
from PIL import Image

from stylenet.cli.infer import main
from stylenet.inference.stylizer import InferenceError, Stylizer
from stylenet.networks.checkpoint import atomic_save
from stylenet.networks.inference import InferenceNet
from stylenet.networks.transformer import run_any_size
from stylenet.perceptual.color import rgb_to_yuv
from stylenet.runtime import DeviceError


@pytest.fixture
def ckpt(tmp_path) -> Path:
    path = tmp_path / "wave.pt"
    atomic_save({"stylenet": tiny_meta(), "state_dict": tiny_net().state_dict()}, path)
    return path


def _write_ckpt(folder: Path) -> Path:
    path = folder / "tiny.ckpt"
    atomic_save({"stylenet": tiny_meta(), "state_dict": tiny_net().state_dict()}, path)
    return path


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (5, 3), (37, 45), (61, 17)])
def test_output_has_the_input_size_for_any_size(stylizer, size):
    out = stylizer(photo(size))
    assert out.size == size and out.mode == "RGB"


def test_the_long_side_option_resizes_keeping_the_aspect(stylizer):
    out = stylizer(photo((120, 80)), size=60)
    assert out.size == (60, 40)


def test_alpha_is_carried_through_unchanged(stylizer):
    rgba = photo((40, 30)).convert("RGBA")
    alpha = Image.fromarray(np.tile(np.arange(40, dtype=np.uint8) * 6, (30, 1)))
    rgba.putalpha(alpha)
    out = stylizer(rgba)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_strength_zero_returns_the_photo_and_one_half_is_halfway(stylizer):
    img = photo()
    assert np.array_equal(np.asarray(stylizer(img, strength=0.0)), np.asarray(img))
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255
    full = stylizer(x)
    half = stylizer(x, strength=0.5)
    assert torch.allclose(half, (x + full) / 2, atol=1e-5)


def test_strength_outside_zero_to_one_is_refused(stylizer):
    with pytest.raises(InferenceError, match="between 0 and 1"):
        stylizer(photo(), strength=1.5)


def test_colour_preservation_keeps_the_photos_chroma(stylizer):
    x = torch.from_numpy(np.asarray(photo((64, 48))).copy()).permute(2, 0, 1).float() / 255
    x = 0.25 + 0.5 * x  # mid-tones: no clipping, so the chroma is kept exactly
    plain = stylizer(x)
    kept = stylizer(x, preserve_color=True)
    uv = lambda t: rgb_to_yuv(t)[1:]  # noqa: E731
    unclipped = ((kept > 0) & (kept < 1)).all(0)
    assert unclipped.float().mean() > 0.5
    assert (uv(kept) - uv(x))[:, unclipped].abs().max() < 1e-5
    assert (uv(plain) - uv(x)).abs().mean() > 0.01  # the plain stylisation does change the colours
    assert torch.allclose(rgb_to_yuv(kept)[0][unclipped], rgb_to_yuv(plain)[0][unclipped], atol=1e-5)


def test_tensor_api_keeps_shape_and_never_touches_the_input(stylizer):
    x = torch.rand(2, 3, 21, 30)
    before = x.clone()
    y = stylizer(x)
    assert y.shape == x.shape and y.dtype == torch.float32 and 0 <= y.min() and y.max() <= 1
    assert torch.equal(x, before)
    assert torch.allclose(stylizer(x[0]), y[0], atol=1e-5)  # C×H×W in, C×H×W out
    with torch.inference_mode():
        raw = run_any_size(InferenceNet(tiny_net()).eval(), x).clamp(0, 1)
    assert torch.allclose(y, raw, atol=1e-5)


def test_batching_same_size_images_changes_nothing(stylizer):
    imgs = [photo((33, 20)), photo((33, 20)).transpose(Image.FLIP_LEFT_RIGHT), photo((20, 33)), photo((33, 20)).rotate(180)]
    together = stylizer.stylize_many(imgs, batch_size=3)
    alone = [stylizer(im) for im in imgs]
    for a, b in zip(together, alone):
        assert a.size == b.size
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1


def test_tiled_stylisation_matches_untiled_through_the_api(stylizer):
    x = torch.rand(1, 3, 300, 200)
    whole = stylizer(x, tile=None)
    tiled = stylizer(x, tile=128, overlap=56, stats_size=300)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().mean() < 2e-3


def test_onnxruntime_backend_matches_torch_whole_and_tiled():
    pytest.importorskip("onnxruntime")
    net = tiny_net()
    by_torch = Stylizer(net, device="cpu", backend="torch")
    by_ort = Stylizer(net, device="cpu", backend="onnxruntime")
    for size in [(37, 45), (9, 7)]:  # the second one is below the ONNX graph's size and falls back to torch
        x = torch.rand(1, 3, *size)
        assert torch.allclose(by_ort(x), by_torch(x), atol=1e-4)
    # Tiles too: the statistics frozen on torch's downscaled pass are inputs of a second ONNX graph.
    x = torch.rand(1, 3, 200, 150)
    assert torch.allclose(by_ort(x, tile=96), by_torch(x, tile=96), atol=1e-4)
    assert by_ort.tiled_images == 1 and by_ort.runner.tile_session is not None  # the tiles ran in onnxruntime


def test_absent_cuda_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        Stylizer(tiny_net(), device="cuda")


def test_stylizer_loads_a_checkpoint_and_names_its_style(ckpt):
    s = Stylizer.from_checkpoint(ckpt, device="cpu")
    assert s.style_name == "wave" and s.config == {"base_channels": 8, "num_residual_blocks": 1}


@pytest.mark.parametrize("mode", ["L", "I;16", "CMYK", "P", "PA", "LA", "1"])
def test_every_image_mode_works(tmp_path, stylizer, mode):
    img = photo((23, 17))
    if mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
        img = Image.fromarray(arr)  # 16-bit grey
        assert img.mode.startswith("I;16")
    elif mode == "PA":
        img = img.convert("RGBA").convert("PA")
    else:
        img = img.convert(mode)
    out = stylizer(img)
    assert out.size == (23, 17)
    assert out.mode == ("RGBA" if mode in ("PA", "LA") else "RGB")


def test_exif_orientation_is_honoured(tmp_path, stylizer):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    photo((40, 30)).save(path, exif=exif)
    code = main(["--ckpt", str(_write_ckpt(tmp_path)), str(path), "-o", str(tmp_path / "out"), "-q", "--backend", "torch"])
    assert code == 0
    assert Image.open(tmp_path / "out" / "rotated_wave.jpg").size == (30, 40)


# Modules only training and the Hydra commands need: Lightning takes seconds to import, Hydra a second.
TRAINING_ONLY = ("lightning", "pytorch_lightning", "lightning_fabric", "hydra", "omegaconf")


def test_the_python_api_stylises_without_importing_lightning_or_hydra(tmp_path):
    from conftest import ROOT

    fixture = ROOT / "tests" / "fixtures" / "wave_tiny_2026-11-30.ckpt"
    code = f"""
import sys
import stylenet
from PIL import Image
stylizer = stylenet.Stylizer.from_checkpoint({str(fixture)!r}, device="cpu")
out = stylizer(Image.open({str(ROOT / "assets" / "sample" / "chelsea.jpg")!r}).resize((40, 30)))
assert out.size == (40, 30)
print(stylenet.__file__)
print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}} & set({TRAINING_ONLY!r}))) or "none")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    where, loaded = r.stdout.strip().splitlines()[-2:]
    assert where == str(ROOT / "stylenet" / "__init__.py")
    assert loaded == "none", f"the Stylizer API imported {loaded}"
