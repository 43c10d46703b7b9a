"""The decoders' least-squares initialisation (stylenet/universal/lsq_init.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from stylenet.config import ROOT
from stylenet.perceptual.vgg import VGGEncoder
from stylenet.universal.decoder import Decoder
from stylenet.universal.lsq_init import least_squares_init


def crops(size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit on crops of four shipped photos, test on the fifth (a photo the fit never saw)."""
    names = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field"]
    out = []
    for name in names:
        im = TF.to_tensor(TF.resize(Image.open(ROOT / "assets" / "sample" / f"{name}.jpg").convert("RGB"), 2 * size))
        out.append(torch.stack([im[:, i:i + size, j:j + size] for i in (0, size // 2) for j in (0, size // 2)]))
    return torch.cat(out[:4]), out[4]


def psnr(dec: Decoder, enc: VGGEncoder, x: torch.Tensor) -> float:
    with torch.no_grad():
        return -10 * math.log10(float(F.mse_loss(dec(enc(x)["relu1_1"]), x)))


def test_the_relu1_1_decoder_is_solved_in_closed_form_on_real_features():
    train, held_out = crops()
    enc = VGGEncoder(["relu1_1"], weights="embedded", network="vgg19")
    fitted, default = Decoder(1), Decoder(1)
    errors = least_squares_init(fitted, enc, train)
    assert len(errors) == 1 and errors[0] < 1e-3
    assert psnr(fitted, enc, held_out) > 30  # measured 40 dB at 128 px on BSDS500; Adam took 300 steps to reach 16-19
    assert psnr(default, enc, held_out) < 15
    assert float(fitted.input_scale) == pytest.approx(1 / float(enc(train)["relu1_1"].pow(2).mean().sqrt()), rel=1e-4)


def test_deeper_decoders_fit_every_convolution_and_stay_finite():
    train, held_out = crops(32)
    enc = VGGEncoder(["relu3_1"], weights="random", network="vgg19")
    dec = Decoder(3)
    before = [p.clone() for p in dec.parameters()]
    errors = least_squares_init(dec, enc, train, ridge=1e-3)
    assert len(errors) == 5 and all(math.isfinite(e) for e in errors)  # relu3_1 mirrors five convolutions
    assert all(not torch.equal(a, b) for a, b in zip(before, dec.parameters()))
    with torch.no_grad():
        y = dec(enc(held_out)["relu3_1"], clamp=False)
    assert y.shape == held_out.shape and torch.isfinite(y).all()


def test_a_half_width_decoder_is_fitted_to_the_encoders_strongest_channels():
    train, held_out = crops()
    enc = VGGEncoder(["relu2_1"], weights="embedded", network="vgg19")
    full, half = Decoder(2), Decoder(2, width=0.5)
    assert sum(p.numel() for p in half.parameters()) < 0.5 * sum(p.numel() for p in full.parameters())
    errors = least_squares_init(half, enc, train)
    assert len(errors) == 3 and all(math.isfinite(e) for e in errors)
    least_squares_init(full, enc, train)
    with torch.no_grad():
        f = enc(held_out)["relu2_1"]
        full_db, half_db = (-10 * math.log10(float(F.mse_loss(d(f), held_out))) for d in (full, half))
    # measured 22.5 and 23.0 dB (the fit is deterministic): the narrower fit loses nothing at relu2_1
    assert half_db > full_db - 1.0 and half_db > 20


@pytest.mark.parametrize("width", [0, 0.1, 1.5, float("nan"), True, "0.5"])
def test_a_width_outside_an_eighth_to_one_is_refused(width):
    from stylenet.perceptual.vgg import VGGConfigError
    with pytest.raises(VGGConfigError, match=r"decoder width .* is not a number in \[0.125, 1\]"):
        Decoder(4, width=width)
