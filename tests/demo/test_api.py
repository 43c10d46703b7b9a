"""The page's API through Gradio's own client (gradio_client), as another program would use it."""

from __future__ import annotations

import threading

import pytest
from helpers import ROOT
from PIL import Image, ImageChops

PHOTO = ROOT / "assets" / "sample" / "rocket.jpg"  # 640x427


@pytest.fixture(scope="module")
def client(demo):
    from gradio_client import Client

    return Client(demo.url, verbose=False)


def _stylise(client, path, style, size="photo's size"):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), None, style, None, 1.0, False, 1.0, size, api_name="/stylise")


def test_a_photo_through_the_api(client, demo):
    (before, after), download, took = _stylise(client, PHOTO, "udnie (five-paintings)", size="1024")
    with Image.open(download["value"]) as out, Image.open(PHOTO) as photo:
        assert out.format == "JPEG" and out.size == (1024, 683)
        small = out.convert("RGB").resize(photo.size)
        assert ImageChops.difference(small, photo.convert("RGB")).getbbox() is not None
    assert took.startswith("1024x683 in ") and Image.open(after).size == (1024, 683)
    assert any("styles on http://127.0.0.1:" in line for line in demo.lines)


def test_two_requests_at_once_both_finish(client):
    results = {}

    def run(style):
        results[style] = _stylise(client, PHOTO, style)

    threads = [threading.Thread(target=run, args=(s,)) for s in ("wave (five-paintings)", "the_scream (five-paintings)")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(results) == {"wave (five-paintings)", "the_scream (five-paintings)"}
    a, b = (Image.open(results[s][1]["value"]).convert("RGB") for s in results)
    assert a.size == b.size == (640, 427) and ImageChops.difference(a, b).getbbox() is not None


def test_a_bad_file_is_one_line_and_the_server_goes_on(client, tmp_path):
    from gradio_client.exceptions import AppError

    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a photo")
    with pytest.raises(AppError, match=r"holiday.jpg: not a readable image") as e:
        _stylise(client, bad, "wave (five-paintings)")
    assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
    assert _stylise(client, PHOTO, "wave (five-paintings)")[2].startswith("640x427 in ")
