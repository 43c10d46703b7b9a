"""Universal decoders written before the reorganisation of 2026-12-05 (a real `python -m stylenet decoders` run:
levels 1-2, 2 steps, random VGG; tests/fixtures/make_2026_12_05.py) keep loading, stylising identically
and resuming."""

from __future__ import annotations

import torch
from conftest import ROOT

from stylenet.config import compose
from stylenet.training.decoders import train_decoders
from stylenet.universal.stylizer import UniversalStylizer

FIXTURE = ROOT / "tests" / "fixtures" / "universal_tiny_2026-12-05.ckpt"
EXPECTED = ROOT / "tests" / "fixtures" / "universal_tiny_2026-12-05_udnie.pt"


def test_the_2026_12_05_universal_checkpoint_stylises_as_it_did():
    expected = torch.load(EXPECTED, weights_only=True)
    torch.manual_seed(0)  # the random VGG (weights=random) is drawn here, as when the expected pixels were made
    u = UniversalStylizer.from_checkpoint(FIXTURE, device="cpu")
    y = u.stylize_tensor(expected["photo"], [str(ROOT / "assets" / "styles" / "udnie.jpg")], alpha=0.8, style_size=64)
    torch.testing.assert_close(y, expected["stylised"], atol=1e-5, rtol=0)


def test_the_2026_12_05_universal_checkpoint_resumes(tmp_path):
    cfg = compose("decoders", [
        "decoders.encoder.weights=random", "decoders.levels=[1,2]", "data.image_size=32", "data.batch_size=2",
        "data.num_workers=0", "data.val_split=1", "trainer.val_check_interval=2", "trainer.limit_val_batches=1",
        "module.scheduler=null", "trainer.max_steps=3", "callbacks.model_checkpoint.every_n_train_steps=2",
        "callbacks.reconstruction_grid=null", "decoders.init.images=4",
        f"paths.checkpoints={tmp_path}", f"paths.logs={tmp_path}/logs", f"ckpt_path={FIXTURE}",
    ])
    train_decoders(cfg)
    ckpt = torch.load(tmp_path / "universal" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 3 and ckpt["stylenet"]["levels"] == [1, 2]
