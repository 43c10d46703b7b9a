"""A checkpoint written by stylenet before the reorganisation of 2026-11-30 keeps loading, stylising
identically and resuming. The fixture is a real train.py run (8 channels, 1 residual block, 2 steps,
random VGG); the expected pixels were computed by the code that wrote it."""

from __future__ import annotations

import torch
from conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "wave_tiny_2026-11-30.ckpt"


EXPECTED = ROOT / "tests" / "fixtures" / "wave_tiny_2026-11-30_coffee48.pt"


def test_the_2026_11_30_checkpoint_stylises_as_it_did():
    from stylenet.inference.stylizer import Stylizer

    expected = torch.load(EXPECTED, weights_only=True)
    stylizer = Stylizer.from_checkpoint(FIXTURE, device="cpu", backend="torch")
    assert stylizer.style_name == "wave"
    y = stylizer.stylize_tensor(expected["photo"])
    torch.testing.assert_close(y, expected["stylised"], atol=1e-5, rtol=0)


def test_the_2026_11_30_checkpoint_resumes(tmp_path):
    from stylenet.config import compose
    from stylenet.training.build import train

    cfg = compose("train", [
        "debug=default", "loss.weights=random", "model.base_channels=8", "model.num_residual_blocks=1",
        "data.image_size=32", "trainer.max_steps=3", "callbacks.final_samples=null", "callbacks.sample_grid=null",
        f"paths.checkpoints={tmp_path}", f"paths.logs={tmp_path}/logs", f"ckpt_path={FIXTURE}",
    ])
    _, out = train(cfg)
    assert out["trainer"].global_step == 3
    meta = torch.load(tmp_path / "wave" / "last.ckpt", weights_only=True)["stylenet"]
    assert meta["train"]["global_step"] == 3 and meta["arch"]["base_channels"] == 8


MULTI = ROOT / "tests" / "fixtures" / "multi_tiny_2026-12-05.ckpt"  # tests/fixtures/make_2026_12_05.py wrote both
MULTI_EXPECTED = ROOT / "tests" / "fixtures" / "multi_tiny_2026-12-05_mix.pt"


def test_the_2026_12_05_multi_style_checkpoint_stylises_a_blend_as_it_did():
    from stylenet.inference.stylizer import Stylizer

    expected = torch.load(MULTI_EXPECTED, weights_only=True)
    stylizer = Stylizer.from_checkpoint(MULTI, device="cpu", backend="torch", style={"wave": 0.7, "udnie": 0.3})
    assert stylizer.styles == ["wave", "udnie"]
    torch.testing.assert_close(stylizer.stylize_tensor(expected["photo"]), expected["stylised"], atol=1e-5, rtol=0)


def test_the_2026_12_05_multi_style_checkpoint_resumes(tmp_path):
    from stylenet.config import compose
    from stylenet.training.build import train

    cfg = compose("train", [
        "debug=default", "loss.weights=random", "model.base_channels=8", "model.num_residual_blocks=1",
        "data.image_size=32", "data.num_workers=0", "style.size=64", "styles=[wave,udnie]", "trainer.max_steps=3",
        "callbacks.final_samples=null", "callbacks.sample_grid=null",
        f"paths.checkpoints={tmp_path}", f"paths.logs={tmp_path}/logs", f"ckpt_path={MULTI}",
    ])
    _, out = train(cfg)
    assert out["trainer"].global_step == 3
    meta = torch.load(tmp_path / "wave+udnie" / "last.ckpt", weights_only=True)["stylenet"]
    assert meta["train"]["global_step"] == 3 and [s["name"] for s in meta["styles"]] == ["wave", "udnie"]
