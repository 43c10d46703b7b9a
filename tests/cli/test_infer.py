"""Inference: the Stylizer API (stylenet/inference/stylizer.py) and the infer.py command (stylenet/cli/infer.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, tiny_meta, without_blocking
from helpers import make_clip, photo, tiny_net
from PIL import Image

from stylenet.cli.infer import main
from stylenet.data import images
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import atomic_save, export_weights


@pytest.fixture
def ckpt(tmp_path) -> Path:
    path = tmp_path / "wave.pt"
    atomic_save({"stylenet": tiny_meta(), "state_dict": tiny_net().state_dict()}, path)
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("infer.py: error: ")
    return lines[0]


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
        ("unwritable output file", "cannot write to the output folder"),
        ("strength out of range", "strength must be between 0 and 1"),
        ("strength not a number", "invalid float value"),
        ("cuda absent", "CUDA is not available"),
        ("no input", "give at least one INPUT"),
        ("nothing found", "no images to stylise"),
        ("tile too small", "--tile must be at least 64"),
        ("overlap too big", "--overlap must be between 0 and"),
        ("stroke scale zero", "--stroke-scale must be auto or a number from 0.25"),
        ("stroke scale negative", "--stroke-scale must be auto or a number from 0.25"),
        ("stroke scale nan", "--stroke-scale must be auto or a number from 0.25"),
        ("stroke scale inf", "--stroke-scale must be auto or a number from 0.25"),
        ("stroke scale under the minimum", "--stroke-scale must be auto or a number from 0.25"),
        ("stroke scale not a number", "--stroke-scale takes a number (2 = strokes twice as big) or auto, got 'big'"),
        ("stroke scale with export", "--stroke-scale is applied around the network when stylising"),
        ("stroke scale with contact sheet", "does not apply to --contact-sheet"),
        ("stroke scale auto without a training size", "--stroke-scale auto needs the training image size"),
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
    elif case == "unwritable output file":
        (tmp_path / "a_file").write_text("x")
        args[-1] = tmp_path / "a_file" / "p_out.png"  # -o a file name inside a "folder" that is a file
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
    elif case.startswith("stroke scale") and case != "stroke scale auto without a training size":
        value = {"zero": "0", "negative": "-2", "nan": "nan", "inf": "inf", "under the minimum": "0.1", "not a number": "big",
                 "with export": "2", "with contact sheet": "2"}[case.removeprefix("stroke scale ")]
        args += ["--stroke-scale", value] + {"export": ["--export", "onnx"], "sheet": ["--contact-sheet"]}.get(case.split()[-1], [])
    elif case == "stroke scale auto without a training size":
        meta = tiny_meta()
        del meta["train"]["image_size"]
        args[1] = tmp_path / "old.pt"
        atomic_save({"stylenet": meta, "state_dict": tiny_net().state_dict()}, args[1])
        args += ["--stroke-scale", "auto"]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert expected in one_error_line(err)
    assert not out.exists()  # nothing was written


def test_stroke_scale_paints_images_and_videos_at_their_full_size(tmp_path, ckpt, capsys, monkeypatch):
    import av

    import stylenet.cli.infer_run as infer  # the videos are run there (infer.py was split along its seams on 2026-12-05)

    folder = tmp_path / "media"
    folder.mkdir()
    photo((151, 97)).save(folder / "p.png")
    make_clip(folder / "pan.mp4", frames=3, size=(160, 96), audio=False)
    calls = []
    real = infer.stylize_video
    monkeypatch.setattr(infer, "stylize_video", lambda *a, **kw: calls.append(kw["stroke_scale"]) or real(*a, **kw))
    for scale in ("2", "auto"):
        out = tmp_path / scale
        code, _, err = run_cli(capsys, "--ckpt", ckpt, folder, "-o", out, "--stroke-scale", scale, "--backend", "torch", "-q")
        assert code == 0, err
        assert Image.open(out / "p_wave.png").size == (151, 97)
        with av.open(str(out / "pan_wave.mp4")) as c:
            frames = list(c.decode(video=0))
        assert len(frames) == 3 and (frames[0].width, frames[0].height) == (160, 96)
    assert calls == [2.0, "auto"]


def test_a_stroke_scale_enlarging_past_the_pixel_limit_fails_that_image_alone(tmp_path, ckpt, capsys, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 5000)  # the limit, scaled down to tiny images
    photo((40, 30)).save(tmp_path / "big.png")  # --stroke-scale 0.5 → 80x60 = 4800 px: under
    photo((50, 40)).save(tmp_path / "bigger.png")  # → 100x80 = 8000 px: over
    code, out, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "big.png", tmp_path / "bigger.png", "--stroke-scale", "0.5",
                             "-o", tmp_path / "out", "--backend", "torch")
    assert code == 1 and "stylised 1 of 2" in out
    assert "bigger.png: stroke scale 0.5 makes the 50x40 photo a 100x80 = 8,000-pixel working image" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["big_wave.png"]


def test_symlink_loops_and_fifos_fail_alone(tmp_path, ckpt, capsys):
    make_tree(tmp_path / "photos")
    (tmp_path / "photos" / "loop.jpg").symlink_to("loop.jpg")
    fifo = tmp_path / "photos" / "a" / "pipe.png"
    os.mkfifo(fifo)
    code, out, err = without_blocking(lambda: run_cli(capsys, "--ckpt", ckpt, tmp_path / "photos", fifo, "-o", tmp_path / "out",
                                                      "--backend", "torch"), fifo)
    assert code == 1 and "Traceback" not in err
    assert "stylised 3 of 5" in out
    assert "2 failed:" in err and "loop.jpg: a symbolic link loop" in err and err.count("pipe.png: not a regular file") == 1
    assert len(list((tmp_path / "out").rglob("*_wave.*"))) == 3


def test_a_size_over_the_pixel_limit_fails_that_image_alone(tmp_path, ckpt, capsys, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 5000)  # the limit, scaled down to tiny images
    photo((20, 20)).save(tmp_path / "square.png")  # --size 90 → 90×90 = 8100 px: over
    photo((60, 15)).save(tmp_path / "wide.png")  # --size 90 → 90×22: under
    code, out, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "square.png", tmp_path / "wide.png", "--size", 90,
                             "-o", tmp_path / "out", "--backend", "torch")
    assert code == 1 and "stylised 1 of 2" in out
    assert "square.png: --size 90 makes it 90x90" in err and "smaller --size" in err and "--tile" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["wide_wave.png"]


def test_out_of_memory_advice_fits_the_image(tmp_path, ckpt, capsys, monkeypatch):
    def out_of_memory(self, *a, **kw):
        raise RuntimeError("CUDA out of memory. Tried to allocate 9.00 GiB\nmore details")

    monkeypatch.setattr(Stylizer, "stylize_many", out_of_memory)
    photo((20, 20)).save(tmp_path / "p.png")
    code, _, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "p.png", "-o", tmp_path / "out", "--backend", "torch")
    assert code == 1 and "--tile" in err
    code, _, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "p.png", "--size", 40, "-o", tmp_path / "out", "--backend", "torch")
    assert code == 1 and "smaller --size" in err and "--tile" not in err  # an upscale: tiles would not help


def test_leftover_temporaries_in_the_output_folder_are_removed(tmp_path, ckpt, capsys):
    photo().save(tmp_path / "p.png")
    out = tmp_path / "out"
    out.mkdir()
    stale, fresh = out / ".p_wave.k3j_9x0a.png.tmp.png", out / ".q_wave.abcdefgh.png.tmp.png"  # as atomic_path names them
    stale.touch()
    fresh.touch()  # perhaps another infer.py writing right now
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    code, _, _ = run_cli(capsys, "--ckpt", ckpt, tmp_path / "p.png", "-o", out, "--backend", "torch", "-q")
    assert code == 0
    assert not stale.exists() and fresh.exists()


def test_an_output_that_cannot_be_replaced_stops_before_any_work(tmp_path, ckpt, capsys, monkeypatch):
    photo().save(tmp_path / "p.png")
    photo().save(tmp_path / "q.png")
    (tmp_path / "out" / "p_wave.png").mkdir(parents=True)  # a folder where the output file would go
    code, _, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "p.png", tmp_path / "q.png", "-o", tmp_path / "out")
    assert code == 2 and "the output" in one_error_line(err) and "p_wave.png is a folder" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["p_wave.png"]  # q was not stylised either
    (tmp_path / "out" / "p_wave.png").rmdir()
    locked = tmp_path / "out" / "q_wave.png"
    photo().save(locked)
    locked.chmod(0o444)
    if os.geteuid() == 0:  # root writes anyway: make os.access answer as it does for anyone else
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: not (Path(p) == locked and mode & os.W_OK) and real_access(p, mode, **kw))
    code, _, err = run_cli(capsys, "--ckpt", ckpt, tmp_path / "p.png", tmp_path / "q.png", "-o", tmp_path / "out")
    assert code == 2 and "q_wave.png exists and is read-only" in one_error_line(err)
    assert not (tmp_path / "out" / "p_wave.png").exists()


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


def test_videos_and_images_in_one_folder_are_stylised_with_the_same_options(tmp_path, ckpt, capsys):
    folder = tmp_path / "media"
    folder.mkdir()
    make_clip(folder / "pan.mp4", frames=12)
    make_clip(folder / "clip.mkv", frames=6, audio=False)
    photo().save(folder / "p.jpg")
    (folder / "broken.mov").write_bytes(b"not a video")
    code, out, err = run_cli(capsys, "--ckpt", ckpt, folder, "-o", tmp_path / "out", "--max-frames", "5", "--strength", "0.5",
                             "--backend", "torch", "-q")
    assert code == 1 and "broken.mov: not a readable video" in err  # fails alone, the rest is written
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip_wave.mkv", "p_wave.jpg", "pan_wave.mp4"]
    import av

    with av.open(str(tmp_path / "out" / "pan_wave.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 5 and c.streams.audio  # --max-frames, audio kept
    code, _, err = run_cli(capsys, "--ckpt", ckpt, folder / "pan.mp4", "--max-frames", "0")
    assert code == 2 and "--max-frames >= 1" in one_error_line(err)


def test_infer_py_on_a_photo_imports_neither_lightning_nor_hydra(tmp_path):
    """infer.py's whole run, then every module an inference may load: none may import Lightning or Hydra
    (or OmegaConf) at its top (docs/inference.md: inference needs neither)."""
    training_only = ("lightning", "pytorch_lightning", "lightning_fabric", "hydra", "omegaconf")
    src = tmp_path / "p.png"
    photo((40, 30)).save(src)
    argv = ["infer.py", "--ckpt", str(ROOT / "tests" / "fixtures" / "wave_tiny_2026-11-30.ckpt"), str(src), "-o", str(tmp_path / "out")]
    code = f"""
import importlib, pkgutil, runpy, sys
sys.argv = {argv!r}
try:
    runpy.run_path({str(ROOT / "infer.py")!r}, run_name="__main__")
except SystemExit as e:
    assert not e.code, e.code
def loaded():
    return " ".join(sorted({{m.split(".")[0] for m in sys.modules}} & set({training_only!r}))) or "none"
print(loaded())
import stylenet.inference, stylenet.networks
for package in (stylenet.inference, stylenet.networks):
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
for name in ("stylenet.cli.infer_universal", "stylenet.universal.stylizer", "stylenet.__main__"):
    importlib.import_module(name)
print(loaded())
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "out" / "p_wave.png").size == (40, 30)
    after_run, after_all = r.stdout.strip().splitlines()[-2:]
    assert after_run == "none", f"infer.py on a photo imported {after_run}"
    assert after_all == "none", f"an inference module imports {after_all} at its top"


def test_a_style_name_from_a_checkpoint_never_writes_outside_the_output_folder(tmp_path, capsys):
    """Style names come from checkpoints anyone can write: ``../`` in one stays a part of the file name."""
    from helpers import make_multi_checkpoint

    ckpt = make_multi_checkpoint(tmp_path / "m.ckpt", styles=("../../evil", "udnie"))
    src = tmp_path / "in"
    src.mkdir()
    photo((40, 30)).save(src / "a.png")
    out = tmp_path / "deep" / "out"
    for style in (["--style", "../../evil"], ["--mix", "../../evil:0.5,udnie:0.5"]):
        assert main(["--ckpt", str(ckpt), *style, str(src / "a.png"), "-o", str(out)]) == 0, capsys.readouterr().err
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png") if "in" not in p.parts)
    assert written == ["deep/out/a_.._.._evil.png", "deep/out/a_.._.._evil0.5+udnie0.5.png"]
