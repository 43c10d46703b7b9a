"""Reading a pretrained folder (stylenet/networks/pretrained.py): a hostile folder is refused with one line
before any tensor is read; a good one loads as its .ckpt does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from stylenet.inference.save_pretrained import save_pretrained
from stylenet.networks import pretrained
from stylenet.networks.checkpoint import CheckpointError, load_file, read_checkpoint
from stylenet.networks.pretrained import MAX_CONFIG_BYTES, UNIVERSAL_LEVEL_PARAMS
from stylenet.universal.decoder import Decoder

FIXTURES = ROOT / "tests" / "fixtures"
MULTI, UNIVERSAL = FIXTURES / "multi_tiny_2026-12-05.ckpt", FIXTURES / "universal_tiny_2026-12-05.ckpt"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pretrained")
    return {"multi": save_pretrained(MULTI, base / "multi"), "universal": save_pretrained(UNIVERSAL, base / "universal")}


@pytest.fixture
def folder(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved["multi"], tmp_path / "f"))


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            config.pop(k)
        else:
            config[k] = v
    path.write_text(json.dumps(config))


@pytest.fixture
def no_tensor_reads(monkeypatch):
    """Fails the test if a tensor is read: every refusal must come before."""
    import safetensors.torch

    def boom(*a, **k):
        raise AssertionError("tensors were read before the folder was refused")

    monkeypatch.setattr(safetensors.torch, "load_file", boom)


def _paths_resolved(meta):
    """``meta`` with every painting's path absolute (from the repository's root where it is relative)."""
    import copy

    from conftest import ROOT

    meta = copy.deepcopy(meta)
    for style in [meta.get("style") or {}, *(meta.get("styles") or [])]:
        if style.get("image"):
            style["image"] = str((ROOT / style["image"]).resolve())
    return meta


def test_a_folder_loads_as_its_checkpoint_does(saved):
    for kind, src in (("multi", MULTI), ("universal", UNIVERSAL)):
        a, b = load_file(src), load_file(saved[kind])
        assert _paths_resolved(a["stylenet"]) == _paths_resolved(b["stylenet"])  # a folder keeps paths in the repo relative
        sd = {k.removeprefix("net."): v for k, v in a["state_dict"].items()}
        assert sd.keys() == b["state_dict"].keys() and all(torch.equal(sd[k], b["state_dict"][k]) for k in sd)
    assert read_checkpoint(saved["multi"])["stylenet"]["arch"]["num_styles"] == 2


@pytest.mark.parametrize("name,damage,message", [
    ("not json", lambda f: (f / "config.json").write_text("{not json"), "not JSON"),
    ("deep json", lambda f: (f / "config.json").write_text("[" * 100_000), "not JSON"),
    ("too big", lambda f: (f / "config.json").write_text(" " * (MAX_CONFIG_BYTES + 1)), "more than any stylenet config"),
    ("a list", lambda f: (f / "config.json").write_text("[]"), "not an object"),
    ("foreign format", lambda f: edit_config(f, format="diffusers"), "format='diffusers'"),
    ("newer", lambda f: edit_config(f, pretrained_version=9), "newer stylenet"),
    ("version a string", lambda f: edit_config(f, pretrained_version="1"), "pretrained_version"),
    ("bad dtype", lambda f: edit_config(f, dtype="int8"), "dtype='int8'"),
    ("unknown key", lambda f: edit_config(f, auto_map={"x": "evil.py"}), "unknown keys \\['auto_map'\\]"),
    ("huge channels", lambda f: edit_config(f, arch={"name": "TransformerNet", "base_channels": 10**9, "num_residual_blocks": 1,
                                                     "num_styles": 2}), "base_channels"),
    ("wrong type", lambda f: edit_config(f, arch="TransformerNet"), "not a mapping"),
    ("other shapes", lambda f: edit_config(f, arch={"name": "TransformerNet", "base_channels": 16, "num_residual_blocks": 1,
                                                    "num_styles": 2}), "needs \\[16"),
    ("fewer blocks", lambda f: edit_config(f, arch={"name": "TransformerNet", "base_channels": 8, "num_residual_blocks": 0,
                                                    "num_styles": 2}), "unexpected"),
    ("other dtype", lambda f: edit_config(f, dtype="float16"), "is F32, but config.json says the weights are F16"),
    ("no config", lambda f: (f / "config.json").unlink(), "has no config.json"),
    ("no weights", lambda f: (f / "model.safetensors").unlink(), "has no model.safetensors"),
    ("weights a folder", lambda f: ((f / "model.safetensors").unlink(), (f / "model.safetensors").mkdir()), "a folder, not a file"),
    ("huge header", lambda f: (f / "model.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}"), "a header of"),
    ("short", lambda f: (f / "model.safetensors").write_bytes(b"abc"), "too short"),
    ("pickle", lambda f: torch.save({"a": torch.zeros(1)}, f / "model.safetensors"), "header"),
])
def test_a_hostile_folder_is_one_line_before_any_tensor_is_read(folder, no_tensor_reads, name, damage, message):
    damage(folder)
    with pytest.raises(CheckpointError, match=message) as e:
        load_file(folder)
    assert "\n" not in str(e.value)


def write_safetensors(path: Path, header: dict, data: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


def test_a_weights_header_that_promises_more_than_the_file_holds_is_refused(folder, no_tensor_reads):
    header = {"downsample.0.0.1.weight": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 4 * 10**10]}}
    write_safetensors(folder / "model.safetensors", header, b"\0" * 16)
    with pytest.raises(CheckpointError, match="lie outside the file"):
        load_file(folder)
    write_safetensors(folder / "model.safetensors", {"x": {"dtype": "F32", "shape": "big"}})
    with pytest.raises(CheckpointError, match="malformed header entry"):
        load_file(folder)


def test_universal_decoders_are_bounded_per_level_before_reading(saved, tmp_path, no_tensor_reads):
    folder = Path(shutil.copytree(saved["universal"], tmp_path / "u"))
    n = UNIVERSAL_LEVEL_PARAMS[1] + 1
    write_safetensors(folder / "model.safetensors", {"decoders.relu1_1.layers.1.weight": {"dtype": "F32", "shape": [n],
                                                                                          "data_offsets": [0, 4 * n]}}, b"\0" * 4 * n)
    with pytest.raises(CheckpointError, match="level-1 decoder's tensors exceed"):
        load_file(folder)
    write_safetensors(folder / "model.safetensors", {"decoders.relu5_1.w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                      b"\0" * 4)
    with pytest.raises(CheckpointError, match="belongs to no decoder level"):
        load_file(folder)


def test_the_universal_bounds_hold_the_real_decoders():
    for k, bound in UNIVERSAL_LEVEL_PARAMS.items():
        for network in ("vgg16", "vgg19"):
            assert sum(v.numel() for v in Decoder(k, network).state_dict().values()) <= bound
    assert max(UNIVERSAL_LEVEL_PARAMS[k] for k in (1, 2, 3, 4, 5)) == sum(v.numel() for v in Decoder(5, "vgg19").state_dict().values())


def test_a_folder_without_the_files_says_what_a_pretrained_folder_holds(saved, tmp_path):
    with pytest.raises(CheckpointError, match="last.ckpt, or a pretrained folder"):
        load_file(tmp_path)
    shutil.copytree(saved["multi"], tmp_path / "pretrained")  # a run's folder: the pretrained folder inside is named
    with pytest.raises(CheckpointError, match=f"such as {tmp_path / 'pretrained'}, or a pretrained folder"):
        load_file(tmp_path)
    assert pretrained.FILES == ("model.safetensors", "config.json", "README.md")
