"""Scoring a network against the Gatys teacher (stylenet/teacher/evaluate.py) and its training callback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from helpers import LOSS, _evaluate, make_checkpoint

from stylenet.data.images import save_image
from stylenet.errors import StylenetError
from stylenet.teacher.evaluate import effective_loss_config
from stylenet.teacher.scores import curve_columns


def evaluate_in_process(tmp: Path, *overrides: str) -> int:
    from stylenet.cli.evaluate import run
    from stylenet.config import compose

    logs = [] if any(o.startswith("paths.logs=") for o in overrides) else [f"paths.logs={tmp / 'logs'}"]  # teacher cache
    return run(compose("evaluate", [*overrides, *logs]))


def test_evaluation_command_writes_curves_summary_and_figures(setup):
    r = _evaluate("ckpt=tiny.ckpt", "photos=photos", "iterations=5", "out=ev", "repeats=1", cwd=setup)
    assert r.returncode == 0, r.stderr
    ev = setup / "ev"
    for stem in ("a", "b"):
        for start in ("noise", "content"):  # the teacher from noise (the paper's protocol) and from the photo
            rows = list(csv.reader((ev / f"{stem}_{start}.csv").open()))
            assert tuple(rows[0]) == curve_columns() and len(rows) == 1 + 6  # iterations 0..K
            assert [int(x[0]) for x in rows[1:]] == list(range(6))
        assert (ev / f"{stem}.png").is_file()
    from PIL import Image

    with Image.open(ev / "a.png") as fig:  # photo | network | teacher from noise | from the photo | style
        assert fig.width > 4 * fig.height * 0.9
    summary = (ev / "summary.md").read_text()
    assert "teacher-equivalent iterations" in summary and "median" in summary and "| a.png |" in summary
    assert "from noise (seed 0) and from the photo" in summary
    assert "same loss as training" in summary  # its own training's loss (no loss_from=)
    assert "teacher-equivalent iterations from noise" in summary and "teacher-equivalent iterations from the photo" in summary
    assert "network style loss / photo's own" in summary and "network content loss" in summary
    scores = list(csv.DictReader((ev / "scores.csv").open()))
    assert [s["photo"] for s in scores] == ["a.png", "b.jpg"]
    for s in scores:
        assert {"equiv_iters_from_noise", "equiv_iters_from_content", "style_vs_photo", "net_content"} <= set(s)
        assert float(s["style_vs_photo"]) == pytest.approx(float(s["net_style"]) / float(s["photo_style"]), rel=1e-4)


def test_without_a_teacher_the_figure_has_no_teacher_panel(setup, capsys):
    """iterations=0 (a search's gap_closed objective): no teacher runs, so none is drawn or reported."""
    from PIL import Image

    widths, printed = {}, {}
    for k in (0, 1):
        assert evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", f"photos={setup / 'photos'}", f"iterations={k}",
                                   "init=[noise]", f"out={setup / f'ev{k}'}", "repeats=1") == 0
        printed[k] = next(line for line in capsys.readouterr().out.splitlines() if "a.png: network loss" in line)
        with Image.open(setup / f"ev{k}" / "a.png") as fig:
            widths[k], height = fig.width, fig.height
    assert widths[1] - widths[0] > 0.5 * height  # photo | network | style: the teacher's panel is gone
    assert "teacher" not in printed[0] and "teacher" in printed[1]


def test_a_bad_photo_fails_alone(setup):
    (setup / "photos" / "broken.jpg").write_bytes(b"not a jpeg at all")
    r = _evaluate("ckpt=tiny.ckpt", "photos=photos", "iterations=3", "out=ev", "repeats=1", cwd=setup)
    assert r.returncode == 1
    assert "broken.jpg" in r.stderr and "Traceback" not in r.stderr
    ev = setup / "ev"
    assert (ev / "a_noise.csv").is_file() and (ev / "b_noise.csv").is_file() and not (ev / "broken_noise.csv").exists()
    summary = (ev / "summary.md").read_text()
    assert "## Failed" in summary and "broken.jpg" in summary and "2 photo(s) scored, 1 failed" in summary


def test_missing_checkpoint_or_style_stops_before_any_work(setup, monkeypatch):
    monkeypatch.chdir(setup)  # paths are relative to the user's working directory
    with pytest.raises(StylenetError, match="checkpoint not found: nowhere.ckpt"):
        evaluate_in_process(setup, "ckpt=nowhere.ckpt", "photos=photos", "out=ev")
    make_checkpoint(setup / "lost_style.ckpt", setup / "gone.png")
    with pytest.raises(StylenetError, match=r"gone.png.*style_image="):
        evaluate_in_process(setup, "ckpt=lost_style.ckpt", "photos=photos", "out=ev")
    with pytest.raises(StylenetError, match="photos: nothing does not exist"):
        evaluate_in_process(setup, "ckpt=tiny.ckpt", "photos=nothing", "out=ev")
    assert not (setup / "ev").exists()


def test_loss_overrides_replace_only_the_keys_given(setup, monkeypatch):
    monkeypatch.chdir(setup)
    # The checkpoint names unavailable VGG weights; loss.weights=... fixes that without touching the rest.
    make_checkpoint(setup / "offline.ckpt", setup / "style.png", loss={**LOSS, "weights": str(setup / "no_vgg.pth")})
    args = ("ckpt=offline.ckpt", "photos=photos/a.png", "iterations=1", "out=ev", "repeats=1")
    with pytest.raises(StylenetError, match="no_vgg.pth"):
        evaluate_in_process(setup, *args)
    assert evaluate_in_process(setup, *args, "loss.weights=random") == 0
    assert "content 1, style 1000, tv 1," in (setup / "ev" / "summary.md").read_text()
    assert effective_loss_config({"weights": "A", "tv_weight": 5.0}, {"weights": "B", "tv_weight": None}) == {"weights": "B", "tv_weight": 5.0}


def test_a_thin_photo_fails_alone_and_the_summary_is_still_written(setup, capsys):
    # 1×5000 once aborted the whole evaluation from inside VGG's pooling (no scores.csv, no summary).
    save_image(torch.rand(1, 3, 1, 5000), setup / "photos" / "thin.png")
    code = evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", f"photos={setup / 'photos'}", "iterations=2",
                               f"out={setup / 'ev'}", "repeats=1", "init=content")
    assert code == 1
    summary = (setup / "ev" / "summary.md").read_text()
    assert "thin.png" in summary and "too small for the VGG layer" in summary
    assert "| a.png |" in summary and "| b.jpg |" in summary  # the others are scored
    assert "thin.png: FAILED: a 40x1 image is too small" in capsys.readouterr().err


@pytest.mark.parametrize("override, match", [
    ("size=0", "size=0 must be at least 1"),
    ("repeats=0", "repeats=0 must be at least 1"),
    ("limit=0", "limit=0 must be at least 1"),
])
def test_zero_sizes_and_counts_are_refused_not_replaced_by_defaults(setup, override, match):
    with pytest.raises(StylenetError, match=match):
        evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", f"photos={setup / 'photos'}", override)


def test_an_unwritable_out_stops_before_the_teacher_runs(setup, monkeypatch):
    from stylenet.teacher import evaluate

    (setup / "a_file").write_text("x")  # a folder under a regular file cannot be made, even by root
    monkeypatch.setattr(evaluate, "stylize", lambda *a, **k: pytest.fail("the teacher ran before out was checked"))
    with pytest.raises(StylenetError, match=r"cannot write to the evaluation folder \(out=\) .*a_file/ev"):
        evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", f"photos={setup / 'photos'}", f"out={setup / 'a_file' / 'ev'}")


# ---- universal decoders, other tools' outputs, loss_from and the teacher cache -------------------------
def test_universal_and_outputs_are_scored_with_loss_from_and_share_the_teachers_curves(setup, monkeypatch):
    from helpers import write_universal
    from PIL import Image

    import stylenet.teacher.evaluate as teacher_evaluate

    write_universal(setup / "u.ckpt")
    common = ("photos=photos", "iterations=3", "repeats=1", "init=noise", f"loss_from={setup / 'tiny.ckpt'}",
              f"paths.logs={setup / 'logs'}")
    monkeypatch.chdir(setup)
    assert evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", "out=ev_net", *common) == 0
    cache_files = sorted((setup / "logs" / "teacher_cache").glob("*.csv"))
    assert len(cache_files) == 2  # one curve per photo
    mtimes = [p.stat().st_mtime_ns for p in cache_files]

    calls = []
    real = teacher_evaluate.stylize
    monkeypatch.setattr(teacher_evaluate, "stylize", lambda *a, **k: calls.append(k.get("iterations")) or real(*a, **k))
    assert evaluate_in_process(setup, "ckpt=u.ckpt", "transform=adain", "alpha=0.7", "palette=after", "out=ev_u", *common) == 0
    (setup / "peer").mkdir()
    for stem, ext in (("a", "png"), ("b", "webp")):  # named like each photo, any extension, any size
        Image.new("RGB", (20, 15), (200, 30, 30)).save(setup / "peer" / f"{stem}.{ext}")
    assert evaluate_in_process(setup, "outputs=peer", "out=ev_peer", *common) == 0
    assert 3 not in calls  # the teacher (K = 3) never ran again: both candidates used the cached curves
    assert [p.stat().st_mtime_ns for p in cache_files] == mtimes

    net = list(csv.DictReader((setup / "ev_net" / "scores.csv").open()))
    for folder in ("ev_u", "ev_peer"):
        rows = list(csv.DictReader((setup / folder / "scores.csv").open()))
        assert [r["photo"] for r in rows] == ["a.png", "b.jpg"]
        for r, n in zip(rows, net):  # the same loss scores them: the photo's own style loss is identical
            assert float(r["photo_style"]) == pytest.approx(float(n["photo_style"]))
            assert float(r["teacher_final_total_from_noise"]) == pytest.approx(float(n["teacher_final_total_from_noise"]))
    summary = (setup / "ev_peer" / "summary.md").read_text()
    assert "outputs=" in summary and "| n/a |" in summary
    assert "trained None" not in summary  # no training steps to report for another tool's images
    assert f"the training loss of `{setup / 'tiny.ckpt'}`" in summary and "same loss as training" not in summary
    assert "adain, alpha 0.7" in (setup / "ev_u" / "summary.md").read_text()

    assert evaluate_in_process(setup, "outputs=peer", "out=ev_again", "teacher_cache=false", *common) == 0
    assert 3 in calls  # teacher_cache=false runs the teacher


def test_a_missing_output_fails_alone_and_universal_needs_a_loss(setup, monkeypatch):
    from helpers import write_universal
    from PIL import Image

    monkeypatch.chdir(setup)
    (setup / "peer").mkdir()
    Image.new("RGB", (20, 15)).save(setup / "peer" / "a.jpg")
    code = evaluate_in_process(setup, "outputs=peer", "photos=photos", "iterations=1", "init=content", "out=ev",
                               f"loss_from={setup / 'tiny.ckpt'}")
    assert code == 1 and "no stylised image named b.*" in (setup / "ev" / "summary.md").read_text()
    write_universal(setup / "u.ckpt", levels=(1,))
    with pytest.raises(StylenetError, match="say which loss to score with: loss_from="):
        evaluate_in_process(setup, "ckpt=u.ckpt", "photos=photos", "style_image=style.png")
    with pytest.raises(StylenetError, match="not both"):
        evaluate_in_process(setup, "ckpt=tiny.ckpt", "outputs=peer", "photos=photos")


def test_a_multi_style_network_is_scored_in_the_style_asked_for(setup):
    from helpers import make_multi_checkpoint

    make_multi_checkpoint(setup / "multi.ckpt")
    common = (f"photos={setup / 'photos'}", "iterations=2", "repeats=1", "init=content", "limit=1")
    for name in ("wave", "udnie"):
        assert evaluate_in_process(setup, f"ckpt={setup / 'multi.ckpt'}", f"style_name={name}", f"out={setup}/ev_{name}", *common) == 0
    rows = {n: list(csv.DictReader((setup / f"ev_{n}" / "scores.csv").open()))[0] for n in ("wave", "udnie")}
    # Each style is scored against its own painting: the same network gives other numbers per style.
    assert rows["wave"]["net_style"] != rows["udnie"]["net_style"]
    assert "(style udnie)" in (setup / "ev_udnie" / "summary.md").read_text()
    with pytest.raises(StylenetError, match=r"holds 3 styles \(wave, udnie, the_scream\): choose one with style_name=NAME"):
        evaluate_in_process(setup, f"ckpt={setup / 'multi.ckpt'}", f"out={setup}/ev_none", *common)
    with pytest.raises(StylenetError, match="unknown style 'nope'"):
        evaluate_in_process(setup, f"ckpt={setup / 'multi.ckpt'}", "style_name=nope", f"out={setup}/ev_nope", *common)
    with pytest.raises(StylenetError, match="holds one"):
        evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", "style_name=wave", f"out={setup}/ev_one", *common)


def test_universal_scored_with_a_loss_from_the_command_line_says_so(setup, monkeypatch):
    from helpers import write_universal

    monkeypatch.chdir(setup)
    write_universal(setup / "u.ckpt")
    assert evaluate_in_process(setup, "ckpt=u.ckpt", "transform=adain", "loss=vgg19", "loss.weights=random",
                               "style_image=style.png", "photos=photos", "iterations=2", "repeats=1", "init=noise",
                               "out=ev_cli") == 0
    summary = (setup / "ev_cli" / "summary.md").read_text()
    assert "the loss given on the command line (vgg19," in summary and "same loss as training" not in summary


def test_a_stroke_scale_scores_what_infer_py_would_write(setup, monkeypatch):
    monkeypatch.chdir(setup)
    from stylenet.cli.evaluate import evaluate
    from stylenet.config import compose

    args = ["ckpt=tiny.ckpt", "photos=photos/a.png", "iterations=2", "repeats=1", "size=80", "init=noise", f"paths.logs={setup / 'logs'}"]
    plain = evaluate(compose("evaluate", [*args, "out=plain"]))
    scaled = evaluate(compose("evaluate", [*args, "out=scaled", "stroke_scale=2"]))
    assert "stroke scale 2" in scaled.info["ckpt"] and scaled.out_dir.name == "scaled"
    a, b = plain.scores[0][0], scaled.scores[0][0]
    assert a.net_terms["total"] != b.net_terms["total"]  # painted at half size and guided back: another image
    assert a.photo_style == b.photo_style  # the same photo, painting and loss
    with pytest.raises(StylenetError, match="stroke_scale must be auto or a number"):
        evaluate(compose("evaluate", [*args, "out=bad", "stroke_scale=0"]))
    assert not (setup / "bad").exists()


def test_the_painting_follows_the_photo_size_at_the_training_runs_scale(setup, monkeypatch):
    monkeypatch.chdir(setup)  # tiny.ckpt: a 48 px painting for 40 px crops, ratio 1.2
    from stylenet.cli.evaluate import evaluate
    from stylenet.config import compose

    args = ["ckpt=tiny.ckpt", "photos=photos/a.png", "iterations=1", "repeats=1", "init=noise", f"paths.logs={setup / 'logs'}"]
    assert evaluate(compose("evaluate", [*args, "out=e40"])).info["style_size"] == 48  # the training size: as trained
    at80 = evaluate(compose("evaluate", [*args, "out=e80", "size=80"]))
    assert at80.info["style_size"] == 96 and "the painting at 96 px" in (setup / "e80" / "summary.md").read_text()
    assert evaluate(compose("evaluate", [*args, "out=f80", "size=80", "style_scale=null"])).info["style_size"] == 48
    with pytest.raises(StylenetError, match="over the evaluation's 4096 px bound"):
        evaluate(compose("evaluate", [*args, "out=huge", "size=4000", "style_scale=2"]))


def test_the_backend_key_runs_a_candidate_as_infer_py_backend_does_and_names_it(setup, monkeypatch):
    from helpers import write_universal

    write_universal(setup / "u.ckpt", levels=(4,))
    common = ("photos=photos", "iterations=2", "repeats=1", "init=noise", f"loss_from={setup / 'tiny.ckpt'}")
    monkeypatch.chdir(setup)
    assert evaluate_in_process(setup, "ckpt=u.ckpt", "backend=onnxruntime", "out=ev_ort", *common) == 0
    assert "adain, alpha 1, onnxruntime)" in (setup / "ev_ort" / "summary.md").read_text()
    assert evaluate_in_process(setup, f"ckpt={setup / 'tiny.ckpt'}", "backend=onnxruntime-int8", "out=ev_int8", *common) == 0
    assert "onnxruntime-int8" in (setup / "ev_int8" / "summary.md").read_text()
    with pytest.raises(StylenetError, match="backend=auto is not one of torch, onnxruntime, onnxruntime-int8"):
        evaluate_in_process(setup, "ckpt=u.ckpt", "backend=auto", "out=ev_auto", *common)
