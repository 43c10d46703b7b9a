"""open_stylizer (stylenet/inference/open.py): any checkpoint → a StylizerProtocol whose pixels are the CLI's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ROOT
from helpers import make_clip, photo
from PIL import Image

import stylenet
from stylenet.cli.infer import main
from stylenet.errors import StylenetError
from stylenet.inference.open import open_stylizer
from stylenet.inference.protocol import StylizerProtocol
from stylenet.inference.stylizer import InferenceError, Stylizer
from stylenet.inference.video import stylize_video
from stylenet.universal.paintings import PaintingStylizer

FIXTURES = ROOT / "tests" / "fixtures"
WAVE = FIXTURES / "wave_tiny_2026-11-30.ckpt"
MULTI = FIXTURES / "multi_tiny_2026-12-05.ckpt"
UNIVERSAL = FIXTURES / "universal_tiny_2026-12-05.ckpt"
UDNIE = ROOT / "assets" / "styles" / "udnie.jpg"


def cli_pixels(tmp_path, *argv) -> np.ndarray:
    photo((56, 40)).save(tmp_path / "p.png")
    assert main([*map(str, argv), str(tmp_path / "p.png"), "-o", str(tmp_path / "out.png"), "--device", "cpu", "-q"]) == 0
    with Image.open(tmp_path / "out.png") as im:
        return np.asarray(im.convert("RGB"))


def test_a_one_style_network_is_a_stylizer_that_writes_the_clis_pixels(tmp_path):
    s = open_stylizer(WAVE, device="cpu", backend="torch")
    assert isinstance(s, Stylizer) and isinstance(s, StylizerProtocol) and s.style_label == "wave"
    expected = cli_pixels(tmp_path, "--ckpt", WAVE, "--backend", "torch", "--strength", "0.6", "--preserve-color")
    assert np.array_equal(np.asarray(s(photo((56, 40)), strength=0.6, preserve_color=True)), expected)


def test_a_multi_style_network_takes_a_mix_and_writes_the_clis_pixels(tmp_path):
    s = open_stylizer(MULTI, style={"wave": 0.7, "udnie": 0.3}, device="cpu", backend="torch")
    assert isinstance(s, StylizerProtocol) and s.styles == ["wave", "udnie"]
    expected = cli_pixels(tmp_path, "--ckpt", MULTI, "--backend", "torch", "--mix", "wave:0.7,udnie:0.3")
    assert np.array_equal(np.asarray(s(photo((56, 40)))), expected)
    fixture = torch.load(FIXTURES / "multi_tiny_2026-12-05_mix.pt", weights_only=True)  # and the pixels of 2026-12-05
    torch.testing.assert_close(s.stylize_tensor(fixture["photo"]), fixture["stylised"], atol=1e-5, rtol=0)


def test_universal_decoders_take_a_painting_and_write_the_clis_pixels(tmp_path):
    torch.manual_seed(0)  # the fixture's VGG is random (weights=random), drawn when the decoders are opened
    expected = cli_pixels(tmp_path, "--ckpt", UNIVERSAL, "--style", UDNIE, "--alpha", "0.8", "--style-size", "64",
                          "--strength", "0.7")
    torch.manual_seed(0)
    s = open_stylizer(UNIVERSAL, style=str(UDNIE), device="cpu", alpha=0.8, style_size=64)
    assert isinstance(s, PaintingStylizer) and isinstance(s, StylizerProtocol) and s.style_label == "udnie"
    assert np.array_equal(np.asarray(s(photo((56, 40)), strength=0.7)), expected)
    fixture = torch.load(FIXTURES / "universal_tiny_2026-12-05_udnie.pt", weights_only=True)  # the pixels of 2026-12-05
    torch.manual_seed(0)  # the decoders' own colours, as then (the palette default came on 2026-12-07)
    raw = open_stylizer(UNIVERSAL, style=str(UDNIE), device="cpu", alpha=0.8, style_size=64, palette=None)
    torch.testing.assert_close(raw(fixture["photo"]), fixture["stylised"], atol=1e-5, rtol=0)


def test_universal_strength_is_the_one_blend_and_refuses_what_only_networks_do():
    torch.manual_seed(0)
    s = open_stylizer(UNIVERSAL, style={str(UDNIE): 1.0}, device="cpu", style_size=64)
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    full = s.stylize_tensor(x)
    torch.testing.assert_close(s.stylize_tensor(x, strength=0.25), torch.lerp(x, full, 0.25), atol=1e-6, rtol=0)
    assert torch.equal(s.stylize_tensor(x, strength=0.0), x)
    assert s.working_size((40, 56)) == (40, 56)
    for kw in ({"tile": 512}, {"stroke_scale": 2.0}, {"strength": 1.5}):
        with pytest.raises(StylenetError):
            s.stylize_tensor(x, **kw)


def test_a_video_is_stylised_through_the_protocol_by_either_kind(tmp_path):
    import av

    clip = make_clip(tmp_path / "pan.mp4", frames=3, size=(64, 48), audio=False)
    torch.manual_seed(0)
    kinds = {"net": open_stylizer(WAVE, device="cpu", backend="torch"),
             "universal": open_stylizer(UNIVERSAL, style=str(UDNIE), device="cpu", style_size=64)}
    for name, s in kinds.items():
        r = stylize_video(s, clip, tmp_path / f"{name}.mp4", progress=False, strength=0.9)
        with av.open(str(tmp_path / f"{name}.mp4")) as c:
            frames = list(c.decode(video=0))
        assert r.frames == len(frames) == 3 and (frames[0].width, frames[0].height) == (64, 48)


def test_universal_decoders_without_a_painting_are_one_line():
    with pytest.raises(InferenceError, match="holds universal decoders: give the painting"):
        open_stylizer(UNIVERSAL, device="cpu")


def test_open_stylizer_is_exported_lazily_from_the_package():
    assert stylenet.open_stylizer is open_stylizer and stylenet.StylizerProtocol is StylizerProtocol
