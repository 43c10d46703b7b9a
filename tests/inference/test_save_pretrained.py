"""save_pretrained / from_pretrained (stylenet/inference/save_pretrained.py): the round trip stylises identically,
half precision stays close, the folder is written atomically and holds what the Hub expects."""

from __future__ import annotations

import json
import sys
import types

import pytest
import torch
from conftest import ROOT

from stylenet.inference.open import open_stylizer
from stylenet.inference.save_pretrained import model_card, push_to_hub, save_pretrained
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import CheckpointError

FIXTURES = ROOT / "tests" / "fixtures"
MULTI, UNIVERSAL, WAVE_V1 = (FIXTURES / "multi_tiny_2026-12-05.ckpt", FIXTURES / "universal_tiny_2026-12-05.ckpt",
                             FIXTURES / "wave_tiny_2026-11-30.ckpt")
PHOTO = torch.rand(1, 3, 40, 52, generator=torch.Generator().manual_seed(0))


def test_the_round_trip_stylises_identically_and_half_precision_stays_close(tmp_path):
    full, half = save_pretrained(MULTI, tmp_path / "full"), save_pretrained(MULTI, tmp_path / "half", half=True)
    ref = Stylizer.from_checkpoint(MULTI, device="cpu", backend="torch", style="udnie")(PHOTO)
    assert torch.equal(Stylizer.from_pretrained(full, device="cpu", backend="torch", style="udnie")(PHOTO), ref)
    assert (Stylizer.from_pretrained(half, device="cpu", backend="torch", style="udnie")(PHOTO) - ref).abs().max() < 5e-3
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    assert json.loads((half / "config.json").read_text())["dtype"] == "float16"


def test_universal_decoders_and_an_old_checkpoint_round_trip(tmp_path):
    folder = save_pretrained(UNIVERSAL, tmp_path / "u")
    painting = ROOT / "assets" / "styles" / "wave.jpg"
    outs = []
    for src in (UNIVERSAL, folder):
        torch.manual_seed(0)  # the same random encoder for both
        outs.append(open_stylizer(src, style=painting, device="cpu", encoder_weights="random")(PHOTO))
    assert torch.equal(*outs)
    old = save_pretrained(WAVE_V1, tmp_path / "v1")  # format 1's keys come out under today's names
    assert json.loads((old / "config.json").read_text())["format_version"] == 2
    assert torch.equal(Stylizer.from_pretrained(old, device="cpu", backend="torch")(PHOTO),
                       Stylizer.from_checkpoint(WAVE_V1, device="cpu", backend="torch")(PHOTO))


def test_a_failed_write_leaves_the_previous_folder_whole(tmp_path, monkeypatch):
    folder = save_pretrained(MULTI, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    import safetensors.torch

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.torch, "save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        save_pretrained(MULTI, folder, half=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left beside it


def test_the_model_card_has_the_hub_front_matter_and_what_was_passed(tmp_path):
    folder = save_pretrained(MULTI, tmp_path / "m", card={"command": "python train.py styles=[wave,udnie]", "hardware": "2 CPU cores",
                                                          "photos": "assets/sample", "photos_license": "public domain"})
    text = (folder / "README.md").read_text()
    front = text.split("---")[1]
    assert "library_name: stylenet" in front and "license: mit" in front and "- style-transfer" in front
    for fact in ("`python train.py styles=[wave,udnie]`", "2 CPU cores", "public domain", "Katsushika Hokusai", "Steps: 2"):
        assert fact in text
    with pytest.raises(ValueError, match="unknown model card keys"):
        model_card({"kind": "universal", "encoder": {"network": "vgg19"}, "levels": [4]}, {"hardwere": "x"})


def test_a_checkpoint_whose_weights_do_not_fit_is_not_saved(tmp_path):
    ckpt = torch.load(MULTI, weights_only=True)
    ckpt["stylenet"]["arch"]["base_channels"] = 16
    with pytest.raises(CheckpointError, match="do not match"):
        save_pretrained(ckpt, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_push_to_hub_sends_exactly_the_hub_files(tmp_path, monkeypatch):
    """Offline: huggingface_hub's HfApi is replaced by a recorder (the real upload is not tested here)."""
    calls = []

    class Api:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id))

        def upload_folder(self, **kw):
            calls.append(("upload", kw))
            return types.SimpleNamespace(commit_url="https://huggingface.co/me/x/commit/1")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(HfApi=Api))
    folder = save_pretrained(MULTI, tmp_path / "m")
    (folder / "notes.txt").write_text("private")
    assert push_to_hub(folder, "me/x").endswith("/commit/1")
    upload = calls[1][1]
    assert calls[0] == ("create", "me/x") and upload["repo_id"] == "me/x"
    assert sorted(upload["allow_patterns"]) == ["README.md", "config.json", "model.safetensors"]
    assert sorted(p.name for p in folder.iterdir() if p.name in upload["allow_patterns"]) == sorted(upload["allow_patterns"])
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match="no config.json"):
        push_to_hub(folder, "me/x")
