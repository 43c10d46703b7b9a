"""A checkpoint written by stylenet before the reorganisation (issue 10) keeps loading, stylising
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
