"""Export (stylenet/inference/export.py, infer.py --export): ONNX and TorchScript agree with PyTorch on a real photo."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, tiny_meta
from helpers import PHOTO
from PIL import Image

from stylenet.cli.infer import main
from stylenet.data.images import load_image
from stylenet.inference.export import MIN_SIDE, export_onnx, export_torchscript, onnx_parity, reference_output, torchscript_parity
from stylenet.networks.checkpoint import atomic_save, load_network
from stylenet.networks.transformer import TransformerNet

ort = pytest.importorskip("onnxruntime")


def tiny_net() -> TransformerNet:
    torch.manual_seed(0)
    net = TransformerNet(8, 1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    net = tiny_net()
    meta = tiny_meta()
    return net, export_onnx(net, folder / "wave.onnx", meta=meta), export_torchscript(net, folder / "wave.torchscript.pt")


@pytest.fixture
def ckpt(tmp_path) -> Path:
    path = tmp_path / "last.ckpt"
    net = tiny_net()
    atomic_save({"stylenet": tiny_meta(), "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}, "global_step": 3}, path)
    return path


def test_onnx_matches_pytorch_on_a_real_photo_at_any_size(exported):
    net, onnx_path, _ = exported
    photo = load_image(PHOTO, size=97)  # 97×65: not a multiple of 4 either way
    assert onnx_parity(net, onnx_path, photo) < 1e-4
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for shape in [(2, 3, 40, 52), (1, 3, MIN_SIDE, 11)]:  # dynamic batch, height and width
        x = torch.rand(shape)
        y = session.run(None, {"image": x.numpy()})[0]
        assert y.shape == shape
        assert np.abs(y - reference_output(net, x).numpy()).max() < 1e-4


def test_onnx_file_carries_the_style_metadata(exported):
    import onnx

    _, onnx_path, _ = exported
    props = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert props["style"] == "wave"
    assert json.loads(props["stylenet"])["arch"]["base_channels"] == 8


def test_torchscript_matches_pytorch_on_a_real_photo_at_any_size(exported):
    net, _, ts_path = exported
    photo = load_image(PHOTO, size=97)
    assert torchscript_parity(net, ts_path, photo) < 1e-5
    loaded = torch.jit.load(str(ts_path))
    x = torch.rand(2, 3, 23, 30)
    assert torch.allclose(loaded(x), reference_output(net, x), atol=1e-5)


def test_exported_graph_is_the_stylizers_result(exported):
    from stylenet.inference.stylizer import Stylizer

    net, onnx_path, _ = exported
    x = load_image(PHOTO, size=80)
    y = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})[0]
    assert np.abs(y - Stylizer(net, device="cpu", backend="torch")(x).numpy()).max() < 1e-4


def test_the_onnx_snippet_in_the_docs_runs(exported, tmp_path, monkeypatch):
    _, onnx_path, _ = exported
    doc = (ROOT / "docs" / "inference.md").read_text()
    snippet = re.search(r"```python\n(# onnxruntime-only.*?)```", doc, re.S).group(1)
    (tmp_path / "wave.onnx").write_bytes(onnx_path.read_bytes())
    Image.open(PHOTO).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "docs/inference.md", "exec"), {})
    out = Image.open(tmp_path / "photo_wave.png")
    assert out.size == Image.open(PHOTO).size


def test_cli_exports_every_format_and_reports_the_parity(tmp_path, ckpt, capsys):
    code = main(["--ckpt", str(ckpt), "--export", "onnx", "--export", "torchscript", "--export", "weights",
                 "-o", str(tmp_path / "exp"), str(PHOTO), "--size", "96"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"max \|onnx − PyTorch\| = \d\.\d\de-0\d on .*chelsea.jpg \(96×64\)", out)
    assert re.search(r"max \|torchscript − PyTorch\| = \d\.\d\de[-+]\d\d", out)
    names = sorted(p.name for p in (tmp_path / "exp").iterdir())
    assert names == ["wave.onnx", "wave.torchscript.pt", "wave.weights.pt"]
    net, meta = load_network(tmp_path / "exp" / "wave.weights.pt")
    ref, _ = load_network(ckpt)
    assert meta["style"]["name"] == "wave"
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), ref.state_dict().values()))
    light = os.path.getsize(tmp_path / "exp" / "wave.weights.pt")
    assert light < os.path.getsize(ckpt) + 1  # no optimiser state, never bigger


def test_cli_export_to_a_file_name_and_refuses_the_checkpoint_itself(tmp_path, ckpt, capsys):
    assert main(["--ckpt", str(ckpt), "--export", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").exists()
    capsys.readouterr()
    assert main(["--ckpt", str(ckpt), "--export", "weights", "-o", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infer.py: error:") and "is the checkpoint itself" in err
