"""Each style's stroke side (stylenet/teacher/strokes.py): measured with the training loss at several working sides,
the lowest chosen, recorded in the metadata that --stroke-scale auto reads. Tiny networks and random VGG weights."""

from __future__ import annotations

import pytest
from helpers import make_multi_checkpoint, noise, photo_folder

from stylenet.errors import StylenetError
from stylenet.inference.stylizer import Stylizer
from stylenet.networks.checkpoint import CheckpointMeta, load_network
from stylenet.teacher.strokes import SideScore, best_side, calibrate, format_table, load_photos, with_stroke_sides


@pytest.fixture
def photos(tmp_path):
    folder = photo_folder(tmp_path / "photos", count=3)
    noise(folder / "n.png", seed=1, size=(80, 60))
    return folder


def test_every_style_gets_the_side_of_its_lowest_training_loss(tmp_path, photos):
    ckpt = make_multi_checkpoint(tmp_path / "multi.ckpt")
    sides, scores = calibrate(ckpt, photos, size=80, sides=(80, 64), limit=2, device="cpu")
    assert list(sides) == list(scores) == ["wave", "udnie", "the_scream"]
    for name, rows in scores.items():
        assert [r.side for r in rows] == [80, 64]
        assert sides[name] == min(rows, key=lambda r: r.total).side
        assert all(r.total > 0 and r.style_ratio > 0 and r.content >= 0 for r in rows)
    table = format_table(scores)
    assert len(table.splitlines()) == 2 + 6 and f"| wave | **{sides['wave']}** |" in table


def test_the_sides_are_recorded_in_metadata_that_validates(tmp_path):
    _, meta = load_network(make_multi_checkpoint(tmp_path / "multi.ckpt"))
    out = with_stroke_sides(meta, {"wave": 512, "udnie": 192, "the_scream": 256})
    assert [s["stroke_side"] for s in CheckpointMeta.from_dict(out).styles] == [512, 192, 256]
    assert "stroke_side" not in meta["styles"][0]  # a copy
    with pytest.raises(StylenetError, match="no stroke side for the_scream"):
        with_stroke_sides(meta, {"wave": 512, "udnie": 192})


def test_ties_take_the_larger_side_and_the_stylizers_style_is_restored(tmp_path, photos):
    assert best_side([SideScore(512, 1.0, 0.2, 1.0), SideScore(256, 1.0, 0.1, 1.0), SideScore(128, 2.0, 0.1, 1.0)]) == 512
    from stylenet.teacher.strokes import measure_stroke_sides

    stylizer = Stylizer.from_checkpoint(make_multi_checkpoint(tmp_path / "m.ckpt"), device="cpu", backend="torch", style="udnie")
    measure_stroke_sides(stylizer, load_photos(photos, 64), sides=(64,))
    assert stylizer.style == "udnie"
    assert list(measure_stroke_sides(stylizer, load_photos(photos, 64, limit=1), sides=(64,), styles=["the_scream"])) == ["the_scream"]
    with pytest.raises(StylenetError, match=r"styles \['mona_lisa'\] are not in this network; it holds wave, udnie"):
        measure_stroke_sides(stylizer, load_photos(photos, 64, limit=1), sides=(64,), styles=["mona_lisa"])


def test_unreadable_photos_are_skipped_and_said_and_none_at_all_is_one_line(tmp_path, photos):
    (photos / "broken.jpg").write_bytes(b"not an image")
    said = []
    assert len(load_photos(photos, 64, say=said.append)) == 4
    assert len(said) == 1 and "broken.jpg" in said[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.jpg").write_bytes(b"nope")
    with pytest.raises(StylenetError, match="no readable photos under"):
        load_photos(empty, 64)


def test_a_network_whose_painting_is_not_here_is_one_line_before_any_work(tmp_path, photos):
    from stylenet.teacher.strokes import measure_stroke_sides

    _, meta = load_network(make_multi_checkpoint(tmp_path / "m.ckpt"))
    meta["styles"][1]["image"] = str(tmp_path / "gone.jpg")
    net, _ = load_network(tmp_path / "m.ckpt")
    stylizer = Stylizer(net, meta, device="cpu", backend="torch")
    with pytest.raises(StylenetError, match="style udnie: its painting .*gone.jpg.* is not here") as e:
        measure_stroke_sides(stylizer, load_photos(photos, 64), sides=(64,))
    assert "\n" not in str(e.value)
