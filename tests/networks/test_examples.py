"""Bringing a pytorch/examples fast_neural_style network (stylenet/networks/examples.py) to infer.py."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import ROOT
from PIL import Image
from torch import nn

from stylenet.cli.infer import main
from stylenet.networks.checkpoint import CheckpointError, load_network


# ---- pytorch/examples' network, as their transformer_net.py builds it (same layer names) --------------
class ConvLayer(nn.Module):
    def __init__(self, c_in, c_out, kernel_size, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(c_in, c_out, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(ConvLayer):
    def __init__(self, c_in, c_out, kernel_size, stride, upsample=None):
        super().__init__(c_in, c_out, kernel_size, stride)
        self.upsample = upsample

    def forward(self, x):
        if self.upsample:
            x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return super().forward(x)


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(channels, channels, 3, 1), nn.InstanceNorm2d(channels, affine=True)
        self.conv2, self.in2 = ConvLayer(channels, channels, 3, 1), nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.in2(self.conv2(self.relu(self.in1(self.conv1(x))))) + x


class ExamplesTransformerNet(nn.Module):
    """Pixels 0–255 in and out, no output activation (their neural_style.py clamps to 0–255 when saving)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9, 1), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ConvLayer(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ConvLayer(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        self.res1, self.res2, self.res3, self.res4, self.res5 = (ResidualBlock(128) for _ in range(5))
        self.deconv1, self.in4 = UpsampleConvLayer(128, 64, 3, 1, upsample=2), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = UpsampleConvLayer(64, 32, 3, 1, upsample=2), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def examples_net() -> ExamplesTransformerNet:
    """Their network with weights that make every layer count: random norm scales and shifts (a swapped
    layer shows), and a last layer that spreads the output over 0–255 with some pixels clipped."""
    torch.manual_seed(0)
    net = ExamplesTransformerNet().eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.InstanceNorm2d):
                m.weight.normal_(1.0, 0.3)
                m.bias.normal_(0.0, 0.3)
        net.deconv3.conv2d.weight.mul_(300.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    return net


def save_examples(net: nn.Module, path) -> None:
    """As their neural_style.py saves it, with the instance norms' running stats old PyTorch versions kept."""
    sd = dict(net.state_dict())
    for name, m in net.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            sd[f"{name}.running_mean"], sd[f"{name}.running_var"] = torch.zeros(m.num_features), torch.ones(m.num_features)
    torch.save(sd, path)


@pytest.fixture
def pth(tmp_path):
    path = tmp_path / "mosaic.pth"
    save_examples(examples_net(), path)
    return path


@pytest.fixture
def photo(tmp_path):
    """A real photo, small, lossless (so both networks read the same pixels)."""
    path = tmp_path / "chelsea.png"
    Image.open(ROOT / "assets" / "sample" / "chelsea.jpg").convert("RGB").resize((88, 60), Image.Resampling.LANCZOS).save(path)
    return path


def reference(net: nn.Module, photo) -> np.ndarray:
    """What pytorch/examples paints: 0–255 in, the output clamped to 0–255 (H×W×3, float)."""
    x = torch.from_numpy(np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32)).permute(2, 0, 1)[None]
    with torch.no_grad():
        return net(x)[0].clamp(0, 255).permute(1, 2, 0).numpy()


def test_the_converted_network_is_theirs_layer_for_layer(pth, photo):
    net, meta = load_network(pth)
    assert meta["arch"] == {"name": "TransformerNet", "base_channels": 32, "num_residual_blocks": 5, "output": "clamp"}
    assert meta["style"]["name"] == "mosaic" and "unknown" in meta["style"]["note"]
    assert meta["loss"] == {} and meta["train"] == {}
    x = torch.from_numpy(np.asarray(Image.open(photo), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        ours = net(x)[0].permute(1, 2, 0).numpy() * 255
    ref = reference(examples_net(), photo)
    assert ref.std() > 30 and (ref == 0).mean() < 0.5  # a picture, not a constant
    assert np.abs(ours - ref).max() < 0.05  # 0–255 units: float error only


def test_infer_py_paints_what_pytorch_examples_paints_and_says_what_is_unknown(pth, photo, tmp_path, capsys):
    code = main(["--ckpt", str(pth), str(photo), "-o", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "painting and the loss it was trained with are unknown" in err
    ours = np.asarray(Image.open(tmp_path / "out" / "chelsea_mosaic.png"), dtype=np.float32)
    ref = reference(examples_net(), photo)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1.0 and np.abs(ours - ref).mean() < 0.3  # 8-bit rounding


def test_export_onnx_and_weights_of_a_pytorch_examples_network(pth, photo, tmp_path, capsys):
    assert main(["--ckpt", str(pth), "--export", "onnx", "--export", "weights", str(photo), "-o", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert "max |onnx − PyTorch|" in out and "reloads identically" in out
    assert (tmp_path / "x" / "mosaic.onnx").stat().st_size > 1e6
    net, meta = load_network(tmp_path / "x" / "mosaic.weights.pt")  # the light file keeps the note and the output layer
    assert meta["arch"]["output"] == "clamp" and "unknown" in meta["style"]["note"]


def _evil(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    sd = dict(examples_net().state_dict())
    sd["conv1.conv2d.weight"] = Evil()
    return sd


@pytest.mark.parametrize("case, make, expected", [
    ("random", lambda tmp: {"a": torch.rand(3), "b": torch.rand(4, 4)},
     "are not pytorch/examples fast_neural_style's TransformerNet (conv1.conv2d.weight, in1.weight, ..., deconv3.conv2d.bias)"),
    ("wrong shape", lambda tmp: {**examples_net().state_dict(), "conv2.conv2d.weight": torch.rand(64, 16, 3, 3)},
     "conv2.conv2d.weight has shape (64, 16, 3, 3); pytorch/examples' TransformerNet with 32 base channels"),
    ("missing key", lambda tmp: {k: v for k, v in examples_net().state_dict().items() if k != "in4.weight"},
     "not pytorch/examples' TransformerNet (missing in4.weight)"),
    ("extra key", lambda tmp: {**examples_net().state_dict(), "head.weight": torch.rand(3)},
     "not pytorch/examples' TransformerNet (unexpected head.weight)"),
    ("code", _evil, "refusing to unpickle it (weights_only=True)"),
])
def test_what_is_not_a_pytorch_examples_state_dict_is_refused_in_one_line(tmp_path, photo, capsys, case, make, expected):
    path = tmp_path / "model.pth"
    torch.save(make(tmp_path), path)
    code = main(["--ckpt", str(path), str(photo), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"infer.py: error: {path}") and expected in lines[0], lines[0]
    assert "pytorch/examples fast_neural_style state_dict (.pth/.model)" in lines[0]  # what it wanted
    assert not (tmp_path / "out").exists() and not (tmp_path / "pwned").exists()


def test_a_bare_state_dict_of_a_network_stylenet_did_not_convert_is_refused(tmp_path):
    torch.save(nn.Conv2d(3, 3, 3).state_dict(), tmp_path / "conv.pth")
    with pytest.raises(CheckpointError, match=r"is a state_dict without stylenet metadata: its tensors \(weight, bias, \.\.\.\)"):
        load_network(tmp_path / "conv.pth")
