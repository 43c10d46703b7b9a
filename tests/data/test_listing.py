"""The training data module: every image mode, bad files skipped and reported, sources, order, exact resume."""

from __future__ import annotations

import logging
import os

import pytest
from helpers import solid

from stylenet.data.datamodule import list_images
from stylenet.data.listing import list_photos

pytestmark = [  # Lightning's notes about the tiny test module, not about the data
    pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`"),
    pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`"),
]


def test_nested_folders_are_listed_sorted_without_hidden_or_non_image_files(tmp_path):
    for rel in ["z.jpg", "a/b/c/deep.png", "a/x.JPEG", "m/n.webp"]:
        solid(tmp_path / rel)
    (tmp_path / "a" / "notes.md").write_text("x")
    solid(tmp_path / ".hidden" / "h.png")
    solid(tmp_path / "a" / "._x.jpg")
    files, ignored = list_images(tmp_path)
    assert files == sorted(str(tmp_path / r) for r in ["z.jpg", "a/b/c/deep.png", "a/x.JPEG", "m/n.webp"])
    assert ignored == 3


def test_fifos_and_symlink_loops_are_left_out_and_reported(tmp_path, caplog):
    ok = solid(tmp_path / "ok.png")
    os.mkfifo(tmp_path / "pipe.jpg")  # a reader would block on it forever
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    with caplog.at_level(logging.WARNING):
        files, ignored = list_images(tmp_path)
        photos = list_photos([tmp_path, tmp_path / "pipe.jpg", tmp_path / "loop.jpg"])
    assert files == [str(ok)] and ignored == 2
    assert photos == [ok]
    assert "pipe.jpg" in caplog.text and "not a regular file" in caplog.text
    assert "loop.jpg" in caplog.text and "symbolic link loop" in caplog.text
