"""Stylising with a multi-style network (Dumoulin et al. 2017): choosing and mixing styles on Stylizer and
infer.py, the contact sheet, export with the style weights as an input, tiling per style."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT
from helpers import make_checkpoint, make_multi_checkpoint
from PIL import Image

from stylenet.inference.export import export_onnx, export_torchscript, onnx_parity, torchscript_parity
from stylenet.inference.mix import MixError, mix_vector, parse_mix
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import CheckpointError, CheckpointMeta, load_network
from stylenet.networks.transformer import StyleNotChosenError, TransformerNet, set_mix

NAMES = ["wave", "udnie", "the_scream"]


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return make_multi_checkpoint(tmp_path_factory.mktemp("multi") / "multi.ckpt")


def test_mixes_parse_and_bad_ones_are_one_line():
    assert parse_mix("wave:0.7, udnie:0.3") == {"wave": 0.7, "udnie": 0.3}
    torch.testing.assert_close(mix_vector({"wave": 3, "the_scream": 1}, NAMES), torch.tensor([0.75, 0.0, 0.25]))
    torch.testing.assert_close(mix_vector("udnie", NAMES), torch.tensor([0.0, 1.0, 0.0]))
    for text, message in [("wave", "NAME:WEIGHT"), ("wave:x", "'x' is not a number"), ("wave:1,wave:2", "names wave twice"),
                          ("", "empty")]:
        with pytest.raises(MixError, match=message):
            parse_mix(text)
    for choice, message in [({"nope": 1}, "unknown style 'nope'; this network holds wave, udnie, the_scream"),
                            ({"wave": -1}, "from 0 to 1e"), ({"wave": 0, "udnie": 0}, "every weight of the mix is 0"),
                            ({"wave": float("nan")}, "from 0 to 1e"), (None, "choose one with --style NAME"),
                            ({"wave": 1e39}, "is 1e"), ({"wave": 3e38, "udnie": 3e38}, "from 0 to 1e"),  # sums past float32
                            ({"wave": float("inf")}, "is inf")]:
        with pytest.raises(MixError, match=message):
            mix_vector(choice, NAMES)
    with pytest.raises(MixError, match="holds one style"):
        mix_vector("wave", [])


def test_a_blend_of_parameters_lies_between_the_styles_and_one_hot_is_the_style(multi):
    net, meta = load_network(multi)
    x = torch.rand(1, 3, 32, 32)
    outs = {}
    for name in NAMES:
        set_mix(net, mix_vector(name, NAMES))
        outs[name] = net(x)
    set_mix(net, torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(net(x), outs["wave"])
    set_mix(net, mix_vector({"wave": 0.5, "udnie": 0.5}, NAMES))
    half = net(x)
    assert 0 < (half - outs["wave"]).abs().mean() < (outs["udnie"] - outs["wave"]).abs().mean()
    set_mix(net, None)
    with pytest.raises(StyleNotChosenError, match="holds 3 styles"):
        net(x)


def test_stylizer_chooses_and_mixes_styles_and_the_backends_agree(multi):
    photo = Image.new("RGB", (40, 30), (120, 80, 40))
    photo.putpixel((3, 3), (250, 250, 250))
    torch_ = Stylizer.from_checkpoint(multi, backend="torch", style="udnie")
    ort = Stylizer.from_checkpoint(multi, backend="onnxruntime", style="udnie")
    assert torch_.styles == NAMES
    x = torch.rand(1, 3, 36, 44)
    torch.testing.assert_close(ort(x), torch_(x), atol=1e-4, rtol=0)
    for s in (torch_, ort):
        s.set_style({"wave": 0.7, "udnie": 0.3})
    torch.testing.assert_close(ort(x), torch_(x), atol=1e-4, rtol=0)
    assert "wave0.7+udnie0.3" in repr(torch_)
    assert torch_(photo).size == (40, 30)
    with pytest.raises(MixError, match="choose one with --style NAME"):
        Stylizer.from_checkpoint(multi, backend="torch")(x)


def test_tiles_share_statistics_per_style(multi):
    stylizer = Stylizer.from_checkpoint(multi, backend="torch", style="the_scream")
    x = torch.rand(1, 3, 96, 120)
    whole = stylizer(x, tile=None)
    tiled = stylizer(x, tile=64, overlap=16, stats_size=120)
    assert stylizer.tiled_images == 1
    # Statistics from the whole image at full size: tiles reproduce the untiled result closely.
    assert (tiled - whole).abs().mean() < 0.02
    stylizer.set_style("wave")
    assert (stylizer(x, tile=64, overlap=16, stats_size=120) - tiled).abs().mean() > 0.01  # another style's rows


def test_export_takes_the_style_weights_as_an_input(multi, tmp_path):
    net, meta = load_network(multi)
    export_onnx(net, tmp_path / "m.onnx", meta)
    export_torchscript(net, tmp_path / "m.pt")
    image = torch.rand(1, 3, 45, 38)  # not the traced size
    assert onnx_parity(net, tmp_path / "m.onnx", image) < 1e-4  # every style and an even blend
    assert torchscript_parity(net, tmp_path / "m.pt", image) < 1e-4
    import onnx

    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in model.graph.input] == ["image", "style"]
    assert {p.key: p.value for p in model.metadata_props}["style"] == "wave,udnie,the_scream"


def test_checkpoint_style_lists_are_validated():
    meta = CheckpointMeta.from_dict({"arch": {"base_channels": 8, "num_residual_blocks": 1, "num_styles": 2},
                                     "styles": [{"name": "a"}, {"name": "b"}]})
    assert meta.style_names == ["a", "b"]
    for bad, message in [({"num_styles": 2}, "has NoneType entries"), ({"num_styles": 2, "styles": [{"name": "a"}]}, "has 1 entries"),
                         ({"num_styles": 2, "styles": [{"name": "a"}, {"name": "a"}]}, "names a style twice"),
                         ({"num_styles": 2, "styles": [{"name": "a"}, {}]}, r"styles\[1\] has no name"),
                         ({"num_styles": 10**6, "styles": []}, "num_styles=1000000"),
                         ({"styles": [{"name": "a"}]}, "a style list without arch.num_styles")]:
        arch = {"base_channels": 8, "num_residual_blocks": 1}
        if "num_styles" in bad:
            arch["num_styles"] = bad["num_styles"]
        with pytest.raises(CheckpointError, match=message):
            CheckpointMeta.from_dict({"arch": arch, "styles": bad.get("styles")})
    assert TransformerNet(8, 1).config == {"base_channels": 8, "num_residual_blocks": 1}  # one-style files unchanged


class _Run:
    def __init__(self, returncode: int, stderr: str):
        self.returncode, self.stderr = returncode, stderr


def _infer(*args, cwd, capsys=None):
    """infer.py in this process (a subprocess per call costs seconds of start-up); the torch backend."""
    from stylenet.cli.infer import main

    code = main([*map(str, args), "--backend", "torch"])
    return _Run(code, capsys.readouterr().err if capsys else "")


def test_infer_paints_a_style_a_mix_and_a_contact_sheet(multi, tmp_path, capsys):
    photo = tmp_path / "cat.jpg"
    Image.new("RGB", (48, 40), (90, 140, 200)).save(photo)
    r = _infer("--ckpt", multi, "--style", "udnie", photo, "-o", tmp_path / "out", cwd=tmp_path, capsys=capsys)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "cat_udnie.jpg").is_file()
    r = _infer("--ckpt", multi, "--mix", "wave:0.7,udnie:0.3", photo, "-o", tmp_path / "out", cwd=tmp_path, capsys=capsys)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "cat_wave0.7+udnie0.3.jpg").is_file()
    r = _infer("--ckpt", multi, "--contact-sheet", "--line", "udnie,the_scream", "--size", "32", photo,
               "-o", tmp_path / "sheet", cwd=tmp_path, capsys=capsys)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "sheet" / "cat_contact.png") as sheet:
        assert sheet.height > 2 * 32 and sheet.width >= 4 * 32  # two rows; photo + 3 styles on top
    for args, message in [(("--style", "nope"), "unknown style 'nope'"), (("--mix", "wave:x"), "'x' is not a number"),
                          (("--mix", "wave:0,udnie:0"), "every weight of the mix is 0"), ((), "choose one with --style NAME"),
                          (("--style", "wave", "--mix", "udnie:1"), "not both")]:
        r = _infer("--ckpt", multi, *args, photo, "-o", tmp_path / "bad", cwd=tmp_path, capsys=capsys)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "bad").exists()


def test_a_one_style_network_refuses_style_choices_and_works_unchanged(tmp_path, capsys):
    ckpt = tmp_path / "one.ckpt"
    make_checkpoint(ckpt, ROOT / "assets" / "styles" / "wave.jpg")
    photo = tmp_path / "p.png"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(photo)
    r = _infer("--ckpt", ckpt, "--style", "udnie", photo, cwd=tmp_path, capsys=capsys)
    assert r.returncode == 2 and "holds one style (tiny)" in r.stderr
    r = _infer("--ckpt", ckpt, photo, "-o", tmp_path / "o", "-q", cwd=tmp_path, capsys=capsys)
    assert r.returncode == 0 and (tmp_path / "o" / "p_tiny.png").is_file()
