"""Inference: the Stylizer API (stylenet/inference/stylizer.py) and the infer.py command (stylenet/cli/infer.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, tiny_meta
from PIL import Image

from stylenet.cli.infer import main
from stylenet.inference.stylizer import InferenceError, Stylizer
from stylenet.networks.checkpoint import atomic_save, export_weights
from stylenet.networks.inference import InferenceNet
from stylenet.networks.transformer import TransformerNet, run_any_size
from stylenet.perceptual.color import rgb_to_yuv
from stylenet.runtime import DeviceError

PHOTO = ROOT / "assets" / "sample" / "chelsea.jpg"


def tiny_net(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    net = TransformerNet(8, 1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.fixture
def ckpt(tmp_path) -> Path:
    path = tmp_path / "wave.pt"
    atomic_save({"stylenet": tiny_meta(), "state_dict": tiny_net().state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    return Stylizer(tiny_net(), tiny_meta(), device="cpu", backend="torch")


def photo(size=(61, 45), mode="RGB") -> Image.Image:
    return Image.open(PHOTO).convert("RGB").resize(size).convert(mode)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("infer.py: error: ")
    return lines[0]


# ---- the network and the API ---------------------------------------------------------------------
def test_inference_net_computes_what_transformer_net_computes():
    torch.manual_seed(1)
    net = TransformerNet(16, 2).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    fast = InferenceNet(net).eval()
    for shape in [(2, 3, 36, 44), (1, 3, 16, 16), (1, 3, 64, 28)]:
        x = torch.rand(shape)
        with torch.inference_mode():
            assert torch.allclose(fast(x), net(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (5, 3), (37, 45), (61, 17)])
def test_output_has_the_input_size_for_any_size(stylizer, size):
    out = stylizer(photo(size))
    assert out.size == size and out.mode == "RGB"


def test_the_long_side_option_resizes_keeping_the_aspect(stylizer):
    out = stylizer(photo((120, 80)), size=60)
    assert out.size == (60, 40)


def test_alpha_is_carried_through_unchanged(stylizer):
    rgba = photo((40, 30)).convert("RGBA")
    alpha = Image.fromarray(np.tile(np.arange(40, dtype=np.uint8) * 6, (30, 1)))
    rgba.putalpha(alpha)
    out = stylizer(rgba)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out.getchannel("A")), np.asarray(alpha))


def test_strength_zero_returns_the_photo_and_one_half_is_halfway(stylizer):
    img = photo()
    assert np.array_equal(np.asarray(stylizer(img, strength=0.0)), np.asarray(img))
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255
    full = stylizer(x)
    half = stylizer(x, strength=0.5)
    assert torch.allclose(half, (x + full) / 2, atol=1e-5)


def test_strength_outside_zero_to_one_is_refused(stylizer):
    with pytest.raises(InferenceError, match="between 0 and 1"):
        stylizer(photo(), strength=1.5)


def test_colour_preservation_keeps_the_photos_chroma(stylizer):
    x = torch.from_numpy(np.asarray(photo((64, 48))).copy()).permute(2, 0, 1).float() / 255
    x = 0.25 + 0.5 * x  # mid-tones: no clipping, so the chroma is kept exactly
    plain = stylizer(x)
    kept = stylizer(x, preserve_color=True)
    uv = lambda t: rgb_to_yuv(t)[1:]  # noqa: E731
    unclipped = ((kept > 0) & (kept < 1)).all(0)
    assert unclipped.float().mean() > 0.5
    assert (uv(kept) - uv(x))[:, unclipped].abs().max() < 1e-5
    assert (uv(plain) - uv(x)).abs().mean() > 0.01  # the plain stylisation does change the colours
    assert torch.allclose(rgb_to_yuv(kept)[0][unclipped], rgb_to_yuv(plain)[0][unclipped], atol=1e-5)


def test_tensor_api_keeps_shape_and_never_touches_the_input(stylizer):
    x = torch.rand(2, 3, 21, 30)
    before = x.clone()
    y = stylizer(x)
    assert y.shape == x.shape and y.dtype == torch.float32 and 0 <= y.min() and y.max() <= 1
    assert torch.equal(x, before)
    assert torch.allclose(stylizer(x[0]), y[0], atol=1e-5)  # C×H×W in, C×H×W out
    with torch.inference_mode():
        raw = run_any_size(InferenceNet(tiny_net()).eval(), x).clamp(0, 1)
    assert torch.allclose(y, raw, atol=1e-5)


def test_batching_same_size_images_changes_nothing(stylizer):
    imgs = [photo((33, 20)), photo((33, 20)).transpose(Image.FLIP_LEFT_RIGHT), photo((20, 33)), photo((33, 20)).rotate(180)]
    together = stylizer.stylize_many(imgs, batch_size=3)
    alone = [stylizer(im) for im in imgs]
    for a, b in zip(together, alone):
        assert a.size == b.size
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1


def test_tiled_stylisation_matches_untiled_through_the_api(stylizer):
    x = torch.rand(1, 3, 300, 200)
    whole = stylizer(x, tile=None)
    tiled = stylizer(x, tile=128, overlap=56, stats_size=300)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().mean() < 2e-3


def test_onnxruntime_backend_matches_torch_whole_and_tiled():
    pytest.importorskip("onnxruntime")
    net = tiny_net()
    by_torch = Stylizer(net, device="cpu", backend="torch")
    by_ort = Stylizer(net, device="cpu", backend="onnxruntime")
    for size in [(37, 45), (9, 7)]:  # the second one is below the ONNX graph's size and falls back to torch
        x = torch.rand(1, 3, *size)
        assert torch.allclose(by_ort(x), by_torch(x), atol=1e-4)
    # Tiles too: the statistics frozen on torch's downscaled pass are inputs of a second ONNX graph.
    x = torch.rand(1, 3, 200, 150)
    assert torch.allclose(by_ort(x, tile=96), by_torch(x, tile=96), atol=1e-4)
    assert by_ort.tiled_images == 1 and by_ort._ort_tiles is not None


def test_absent_cuda_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        Stylizer(tiny_net(), device="cuda")


def test_stylizer_loads_a_checkpoint_and_names_its_style(ckpt):
    s = Stylizer.from_checkpoint(ckpt, device="cpu")
    assert s.style_name == "wave" and s.config == {"base_channels": 8, "num_residual_blocks": 1}


@pytest.mark.parametrize("mode", ["L", "I;16", "CMYK", "P", "PA", "LA", "1"])
def test_every_image_mode_works(tmp_path, stylizer, mode):
    img = photo((23, 17))
    if mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
        img = Image.fromarray(arr)  # 16-bit grey
        assert img.mode.startswith("I;16")
    elif mode == "PA":
        img = img.convert("RGBA").convert("PA")
    else:
        img = img.convert(mode)
    out = stylizer(img)
    assert out.size == (23, 17)
    assert out.mode == ("RGBA" if mode in ("PA", "LA") else "RGB")


def test_exif_orientation_is_honoured(tmp_path, stylizer):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    photo((40, 30)).save(path, exif=exif)
    code = main(["--ckpt", str(_write_ckpt(tmp_path)), str(path), "-o", str(tmp_path / "out"), "-q", "--backend", "torch"])
    assert code == 0
    assert Image.open(tmp_path / "out" / "rotated_wave.jpg").size == (30, 40)


def _write_ckpt(folder: Path) -> Path:
    path = folder / "tiny.ckpt"
    atomic_save({"stylenet": tiny_meta(), "state_dict": tiny_net().state_dict()}, path)
    return path


# ---- the command ---------------------------------------------------------------------------------
def make_tree(root: Path) -> list[Path]:
    (root / "a" / "b").mkdir(parents=True)
    files = [root / "one.jpg", root / "a" / "two.png", root / "a" / "b" / "three.webp"]
    sizes = [(31, 17), (16, 16), (9, 14)]
    for f, s in zip(files, sizes):
        photo(s).save(f)
    return files


def test_a_folder_is_stylised_recursively_keeping_sub_folders_and_sizes(tmp_path, ckpt, capsys):
    make_tree(tmp_path / "photos")
    code, out, _ = run_cli(capsys, "--ckpt", ckpt, tmp_path / "photos", "-o", tmp_path / "out", "--backend", "torch")
    assert code == 0
    assert "stylised 3 of 3" in out
    made = {p.relative_to(tmp_path / "out").as_posix(): Image.open(p).size for p in (tmp_path / "out").rglob("*.*")}
    assert made == {"one_wave.jpg": (31, 17), "a/two_wave.png": (16, 16), "a/b/three_wave.webp": (9, 14)}
    # Written atomically through a temporary file, yet with the usual permissions (not mkstemp's 0600).
    umask = os.umask(0)
    os.umask(umask)
    assert ((tmp_path / "out" / "one_wave.jpg").stat().st_mode & 0o777) == 0o666 & ~umask


def test_ext_and_globs_choose_the_format_and_files(tmp_path, ckpt, capsys):
    make_tree(tmp_path / "photos")
    code, _, _ = run_cli(capsys, "--ckpt", ckpt, str(tmp_path / "photos" / "**" / "*.png"), "-o", tmp_path / "out", "--ext", "webp", "-q")  # default backend
    assert code == 0
    assert [p.name for p in (tmp_path / "out").rglob("*.*")] == ["two_wave.webp"]
    assert Image.open(tmp_path / "out" / "two_wave.webp").format == "WEBP"


def test_rerunning_into_a_sub_folder_does_not_stylise_earlier_results(tmp_path, ckpt, capsys):
    make_tree(tmp_path / "photos")
    for _ in range(2):
        code, out, _ = run_cli(capsys, "--ckpt", ckpt, tmp_path / "photos", "-o", tmp_path / "photos" / "stylized", "--backend", "torch")
        assert code == 0 and "stylised 3 of 3" in out


def test_a_bad_file_fails_alone_and_is_listed(tmp_path, ckpt, capsys):
    files = make_tree(tmp_path / "photos")
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "photos" / "a" / "cut.png").write_bytes(files[1].read_bytes()[:60])  # truncated PNG
    code, out, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "photos", tmp_path / "nope.jpg", "-o", tmp_path / "out", "--backend", "torch")
    assert code == 1
    assert "stylised 3 of 6" in out
    assert "3 failed:" in err and "broken.jpg" in err and "cut.png" in err and "nope.jpg" in err
    assert len(list((tmp_path / "out").rglob("*_wave.*"))) == 3


def test_outputs_never_overwrite_an_input(tmp_path, ckpt, capsys):
    src = tmp_path / "p.jpg"
    photo().save(src)
    before = src.read_bytes()
    code, _, err = run_cli(capsys, "--ckpt", ckpt, src, "-o", src)
    assert code == 2 and "would overwrite the input" in one_error_line(err)
    # An input that already looks like an output of this style gets a new name, not itself.
    twin = tmp_path / "p_wave.jpg"
    photo().save(twin)
    code, _, _ = run_cli(capsys, "--ckpt", ckpt, twin, "-o", tmp_path, "-q", "--backend", "torch")
    assert code == 0 and (tmp_path / "p_wave_wave.jpg").exists()
    assert src.read_bytes() == before


@pytest.mark.parametrize(
    "case,expected",
    [
        ("missing checkpoint", "checkpoint not found"),
        ("image as checkpoint", "is not a stylenet checkpoint (a JPEG image)"),
        ("truncated checkpoint", "not a readable checkpoint"),
        ("foreign torch file", "is not a stylenet checkpoint"),
        ("unwritable output", "cannot write to the output folder"),
        ("strength out of range", "strength must be between 0 and 1"),
        ("strength not a number", "invalid float value"),
        ("cuda absent", "CUDA is not available"),
        ("no input", "give at least one INPUT"),
        ("nothing found", "no images to stylise"),
        ("tile too small", "--tile must be at least 64"),
        ("overlap too big", "--overlap must be between 0 and"),
    ],
)
def test_setup_errors_are_one_line_before_any_work(tmp_path, ckpt, capsys, monkeypatch, case, expected):
    src = tmp_path / "p.jpg"
    photo().save(src)
    out = tmp_path / "out"
    args = ["--ckpt", ckpt, src, "-o", out]
    if case == "missing checkpoint":
        args[1] = tmp_path / "missing.ckpt"
    elif case == "image as checkpoint":
        args[1] = src
    elif case == "truncated checkpoint":
        cut = tmp_path / "cut.ckpt"
        cut.write_bytes(ckpt.read_bytes()[:2000])
        args[1] = cut
    elif case == "foreign torch file":
        other = tmp_path / "other.pt"
        torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
        args[1] = other
    elif case == "unwritable output":
        blocker = tmp_path / "a_file"
        blocker.write_text("x")
        args[-1] = blocker / "sub"  # a folder under a file can never be created (even as root)
    elif case == "strength out of range":
        args += ["--strength", "1.5"]
    elif case == "strength not a number":
        args += ["--strength", "strong"]
    elif case == "cuda absent":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        args += ["--device", "cuda"]
    elif case == "no input":
        args = ["--ckpt", ckpt]
    elif case == "nothing found":
        args[2] = tmp_path / "nothing_here.jpg"
    elif case == "tile too small":
        args += ["--tile", "10"]
    elif case == "overlap too big":
        args += ["--tile", "256", "--overlap", "200"]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert expected in one_error_line(err)
    assert not out.exists()  # nothing was written


def test_infer_py_runs_as_a_script_with_exit_codes(tmp_path, ckpt):
    src = tmp_path / "p.png"
    photo((20, 12)).save(src)
    cmd = [sys.executable, str(ROOT / "infer.py"), "--ckpt", str(ckpt), str(src), "-o", str(tmp_path / "out"), "--backend", "torch"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert Image.open(tmp_path / "out" / "p_wave.png").size == (20, 12)
    bad = subprocess.run(cmd + ["--strength", "-1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == ["infer.py: error: strength must be between 0 and 1 (0 = the photo, 1 = fully stylised), got -1"]


def test_exported_weights_and_lightning_style_checkpoints_both_load(tmp_path, capsys):
    net = tiny_net()
    lightning_like = tmp_path / "last.ckpt"
    atomic_save({"stylenet": tiny_meta(), "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                 "global_step": 5, "optimizer_states": []}, lightning_like)
    light = export_weights(lightning_like, tmp_path / "wave.weights.pt")
    x = torch.rand(1, 3, 24, 24)
    a = Stylizer.from_checkpoint(lightning_like, device="cpu")(x)
    b = Stylizer.from_checkpoint(light, device="cpu")(x)
    assert torch.equal(a, b)


@pytest.mark.slow
def test_checkpoint_from_training_stylises_a_photo_end_to_end(tmp_path, capsys):
    """train.py's real checkpoint → infer.py → an image of the photo's size (the train→infer round trip)."""
    from stylenet.config import compose
    from stylenet.training.build import train

    cfg = compose("train", ["debug=default", "loss.weights=random", "model.base_channels=8", "model.num_residual_blocks=1",
                            "data.image_size=32", "data.num_workers=0", "style.size=64",
                            f"paths.checkpoints={tmp_path / 'ckpt'}", f"paths.logs={tmp_path / 'logs'}"])
    _, objs = train(cfg)
    last = Path(objs["checkpoint_dir"]) / "last.ckpt"
    src = tmp_path / "photo.jpg"
    photo((45, 61)).save(src)
    code, out, _ = run_cli(capsys, "--ckpt", last, src, "-o", tmp_path / "out", "--backend", "torch")
    assert code == 0 and "stylised 1 of 1" in out
    assert Image.open(tmp_path / "out" / "photo_wave.jpg").size == (45, 61)
    code, _, _ = run_cli(capsys, "--ckpt", last, "--export", "weights", "-o", tmp_path / "wave.weights.pt")
    assert code == 0
    a = Stylizer.from_checkpoint(last, device="cpu")(photo((45, 61)))
    b = Stylizer.from_checkpoint(tmp_path / "wave.weights.pt", device="cpu")(photo((45, 61)))
    assert np.array_equal(np.asarray(a), np.asarray(b))
