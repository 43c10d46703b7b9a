"""infer.py against what a hostile user tries (the third round): each request is refused in one line before any
work, and nothing is written where it does not belong or lost to a name collision."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT, make_clip, make_multi_checkpoint, photo, write_universal

from stylenet.cli.infer import main

WAVE = ROOT / "assets" / "styles" / "wave.jpg"


@pytest.fixture(scope="module")
def h(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    make_multi_checkpoint(root / "m.ckpt")
    write_universal(root / "u.ckpt", levels=(4,))
    make_clip(root / "c.mp4", frames=4, audio=False)
    for name in ("a.png", "x.bmp", "x.jpg"):
        photo((80, 60)).save(root / name)
    return root


def run(capsys, h, *argv):
    code = main([str(a).replace("H/", f"{h}/") for a in argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--ckpt", "H/u.ckpt", "--style", WAVE, "--mix", "wave:1", "H/a.png"], "--mix blends the styles of a multi-style network"),
    (["--ckpt", "H/u.ckpt", "--style", WAVE, "--contact-sheet", "H/a.png"], "--contact-sheet shows the styles of a multi-style network"),
    (["--ckpt", "H/m.ckpt", "--contact-sheet", "--line", "wave,wave", "H/a.png"], "--line takes two different style names, A,B; got 'wave,wave'"),
    (["--ckpt", "H/m.ckpt", "--style", "wave", "H/a.png", "-o", "H/y.mp4"], "names a video but"),
    (["--ckpt", "H/m.ckpt", "--style", "wave", "H/c.mp4", "-o", "H/x.png"], "names an image but"),
    (["--ckpt", "H/m.ckpt", "--style", "wave", "H/c.mp4", "-o", "H/z.gif"], "stylenet reads .gif but writes images as"),
    (["--ckpt", "H/u.ckpt", "--style", WAVE, "--style-size", "100000", "H/a.png"], "--style-size must be a number of pixels from 16 to 4096"),
    (["--ckpt", "H/m.ckpt", "--style", "wave", "--size", "100000", "H/a.png"], "--size must be a number of pixels from 1 to 16384"),
    (["--ckpt", "H/m.ckpt", "--contact-sheet", "--size", "5000", "H/a.png"], "--size sets the contact sheet's panel height: at most 1024"),
    (["--ckpt", "H/m.ckpt", "--style", "wave", "--start", "nan", "H/c.mp4"], "--start and --duration are numbers of seconds"),
    (["--ckpt", "H/m.ckpt", "--style", "wave", "--duration", "inf", "H/c.mp4"], "--start and --duration are numbers of seconds"),
])
def test_refused_in_one_line_before_any_work(capsys, h, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, h, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir()) and not (h / "y.mp4").exists() and not (h / "x.png").exists() and not (h / "z.gif").exists()


def test_contact_sheets_of_two_photos_with_one_stem_are_both_kept(capsys, h, tmp_path):
    code, _ = run(capsys, h, "--ckpt", "H/m.ckpt", "--contact-sheet", "H/x.bmp", "H/x.jpg", "-o", tmp_path / "out")
    assert code == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_contact-2.png", "x_contact.png"]
    code, _ = run(capsys, h, "--ckpt", "H/m.ckpt", "--contact-sheet", "H/a.png", "-o", tmp_path / "sheet.png")
    assert code == 0 and (tmp_path / "sheet.png").is_file()


def test_size_applies_to_videos_and_a_resolution_change_is_a_note(capsys, h, tmp_path):
    import av

    a = make_clip(tmp_path / "a.ts", frames=4, size=(64, 48), audio=False)
    b = make_clip(tmp_path / "b.ts", frames=4, size=(96, 72), audio=False)
    (tmp_path / "changes.ts").write_bytes(a.read_bytes() + b.read_bytes())
    code, err = run(capsys, h, "--ckpt", "H/m.ckpt", "--style", "wave", "--size", "40", tmp_path / "changes.ts", "-o", tmp_path / "out")
    assert code == 0 and "note: " in err and "4 frames were resized to 40x30" in err
    with av.open(str(tmp_path / "out" / "changes_wave.mp4")) as c:
        assert {(f.width, f.height) for f in c.decode(video=0)} == {(40, 30)}


def test_a_one_frame_gif_is_a_photo_and_a_video_among_photos_fails_alone_with_decoders(capsys, h, tmp_path):
    from PIL import Image

    photo((80, 60)).convert("RGB").save(tmp_path / "still.gif")
    frames = [photo((80, 60)).convert("RGB").rotate(10 * i) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    (tmp_path / "bad.gif").write_bytes(b"GIF89a broken")
    code, _ = run(capsys, h, "--ckpt", "H/m.ckpt", "--style", "wave", tmp_path / "still.gif", tmp_path / "anim.gif", "-o", tmp_path / "o1")
    assert code == 0 and sorted(p.name for p in (tmp_path / "o1").iterdir()) == ["anim_wave.mp4", "still_wave.png"]
    with Image.open(tmp_path / "o1" / "still_wave.png") as im:
        assert im.size == (80, 60)
    code, err = run(capsys, h, "--ckpt", "H/u.ckpt", "--style", WAVE, tmp_path / "bad.gif", tmp_path / "anim.gif", "H/a.png",
                    "-o", tmp_path / "o2")
    assert code == 1 and [p.name for p in (tmp_path / "o2").iterdir()] == ["a_wave.png"]  # the photo is still written
    assert "anim.gif: a universal checkpoint stylises photos, not videos" in err and "bad.gif: not a readable image" in err


def test_a_folder_that_cannot_be_listed_is_reported_not_skipped_in_silence(capsys, h, tmp_path, monkeypatch):
    import os

    (tmp_path / "in" / "locked").mkdir(parents=True)
    photo((80, 60)).save(tmp_path / "in" / "a.png")
    photo((80, 60)).save(tmp_path / "in" / "locked" / "b.png")
    scandir = os.scandir

    def refusing(path="."):  # what a folder without read permission does (tests run as root, who may read anything)
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    code, err = run(capsys, h, "--ckpt", "H/m.ckpt", "--style", "wave", tmp_path / "in", "-o", tmp_path / "out")
    assert code == 1 and [p.name for p in (tmp_path / "out").iterdir()] == ["a_wave.png"]
    assert "locked: cannot read this folder (Permission denied); its files were skipped" in err


def test_a_contact_sheet_never_overwrites_an_input_and_the_summary_counts_images_only(capsys, h, tmp_path):
    folder = tmp_path / "cs"
    folder.mkdir()
    photo((80, 60)).save(folder / "a.png")
    photo((80, 60)).save(folder / "a_contact.png")  # an input with the name the sheet of a.png would take
    code, err = run(capsys, h, "--ckpt", "H/m.ckpt", "--contact-sheet", folder / "a.png", folder / "a_contact.png", "-o", folder)
    assert code == 2 and "would overwrite the input" in err and sorted(p.name for p in folder.iterdir()) == ["a.png", "a_contact.png"]
    code = main([str(a) for a in ("--ckpt", h / "m.ckpt", "--style", "wave", h / "c.mp4", h / "a.png", "-o", tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0 and "stylised 1 of 1 image(s)" in out and "c.mp4 → " in out  # the video is reported on its own line
