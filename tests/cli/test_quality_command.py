"""The multi-size quality table (stylenet/cli/quality.py, stylenet/teacher/quality.py)."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from stylenet.errors import StylenetError


def quality_in_process(tmp, *overrides: str) -> int:
    from stylenet.cli.quality import run
    from stylenet.config import compose

    return run(compose("quality", [f"paths.logs={tmp / 'logs'}", f"paths.checkpoints={tmp}", *overrides]))


CANDIDATES = ("styles=[tiny]", "reference=${style}.ckpt", "~candidates", "+candidates={net:{ckpt:'${style}.ckpt'},photo:{outputs:photos}}",
              "iterations=3", "limits=[1]")


def test_one_command_scores_every_candidate_at_every_size_in_one_table(setup, monkeypatch):
    monkeypatch.chdir(setup)
    assert quality_in_process(setup, "photos=photos", "sizes=[32,40]", "out=q", *CANDIDATES[:-1], "limits=[1,null]") == 0
    table = (setup / "q" / "quality.md").read_text()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| tiny |")]
    assert [(r[1], r[2].rstrip(" ★")) for r in rows] == [("32", "net"), ("32", "photo"), ("40", "net"), ("40", "photo")]
    assert any(r[2].endswith("★") for r in rows if r[1] == "40")  # who is ahead on both, per size
    assert "teacher-equiv. iterations from noise" in table and "style vs photo ½" in table
    with (setup / "q" / "quality.csv").open() as f:
        cells = list(csv.DictReader(f))
    assert [(c["size"], c["candidate"], c["photos"]) for c in cells] == [("32", "net", "1"), ("32", "photo", "1"),
                                                                         ("40", "net", "2"), ("40", "photo", "2")]
    with (setup / "q" / "tiny" / "40" / "photo" / "scores.csv").open() as f:
        a = next(r for r in csv.DictReader(f) if r["photo"] == "a.png")  # a.png is 40 px: the output is the photo itself
    assert float(a["style_vs_photo"]) == pytest.approx(1.0, abs=1e-4)  # it closes none of the gap: the measure is anchored
    with Image.open(setup / "q" / "tiny_frontier.png") as fig:
        assert fig.width >= 2 * 300  # one panel per size
    # The teacher ran once per photo and size, for both candidates: 1 photo at 32, 2 at 40.
    assert len(list((setup / "logs" / "teacher_cache").glob("*.csv"))) == 3
    assert (setup / "q" / "tiny" / "40" / "net" / "summary.md").is_file()


def test_the_winner_on_both_losses_is_starred_alone():
    from stylenet.teacher.quality import Cell, ahead_on_both
    from stylenet.teacher.scores import PhotoScore

    def cell(name, style, content):
        s = PhotoScore("p", {"content": content, "style": style, "tv": 0.0, "total": style + content}, 0.1, 5, 3, 0.2, [],
                       "noise", photo_style=1.0)
        return Cell("x", 64, name, [[s]], 0, 5, "noise")

    cells = [cell("a", 0.2, 1.0), cell("b", 0.3, 1.5), cell("c", 0.1, 2.0)]
    assert ahead_on_both(cells) == {"a", "c"}  # b is behind a on both; a and c trade


def test_a_missing_candidate_or_reference_stops_before_any_teacher_runs(setup, monkeypatch):
    monkeypatch.chdir(setup)
    with pytest.raises(StylenetError, match=r"candidates.net.ckpt=nowhere.ckpt \(painting tiny, size 32\) does not exist"):
        quality_in_process(setup, "photos=photos", "sizes=[32]", "limits=[1]", "out=q", "styles=[tiny]", "reference=${style}.ckpt",
                           "~candidates", "+candidates={net:{ckpt:nowhere.ckpt}}")
    with pytest.raises(StylenetError, match="reference=.*gone.ckpt .painting tiny. not found"):
        quality_in_process(setup, "photos=photos", "sizes=[32]", "limits=[1]", "out=q", "styles=[tiny]", "reference=gone.ckpt")
    with pytest.raises(StylenetError, match=r"candidates.net: unknown key\(s\) \['ckp'\]"):
        quality_in_process(setup, "photos=photos", "sizes=[32]", "limits=[1]", "out=q", "styles=[tiny]", "reference=${style}.ckpt",
                           "~candidates", "+candidates={net:{ckp:x}}")
    with pytest.raises(StylenetError, match=r"sizes=\[0\]"):
        quality_in_process(setup, "photos=photos", "sizes=[0]", "out=q", *CANDIDATES)
    assert not (setup / "logs" / "teacher_cache").exists()


def test_without_a_reference_network_a_loss_group_and_the_painting_s_file_score_every_candidate(setup, monkeypatch):
    # reference=null: a universal decoder or a peer on any painting, with no network trained for it (docs/universal.md)
    monkeypatch.chdir(setup)
    free = ("photos=photos", "sizes=[40]", "limits=[1]", "styles=[style]", "reference=null", "painting=${style}.png",
            "~candidates", "+candidates={photo:{outputs:photos}}", "iterations=3")
    with pytest.raises(StylenetError, match=r"reference=null .* loss=vgg19 style_scale=2"):
        quality_in_process(setup, *free, "out=q")  # no loss group
    with pytest.raises(StylenetError, match=r"reference=null .* loss=vgg19 style_scale=2"):
        quality_in_process(setup, *free, "out=q", "loss=vgg19")  # style_scale=train needs a training run
    with pytest.raises(StylenetError, match=r"painting=.*nowhere.png \(painting style\) not found"):
        quality_in_process(setup, *free[:-4], "painting=nowhere.png", *free[-3:], "out=q", "loss=vgg19", "style_scale=2")
    assert not (setup / "logs" / "teacher_cache").exists()
    assert quality_in_process(setup, *free, "out=q", "loss=vgg19", "loss.weights=random", "style_scale=1.5") == 0
    with (setup / "q" / "style" / "40" / "photo" / "scores.csv").open() as f:
        a = next(r for r in csv.DictReader(f) if r["photo"] == "a.png")
    assert float(a["style_vs_photo"]) == pytest.approx(1.0, abs=1e-4)  # a.png is 40 px: the output is the photo itself
    summary = (setup / "q" / "style" / "40" / "photo" / "summary.md").read_text()
    assert "the painting at 60 px (1.5 x the photo's long side)" in summary and "the loss given on the command line" in summary
