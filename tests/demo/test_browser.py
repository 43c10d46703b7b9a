"""The page in a real browser: Debian's headless Chromium driven by selenium (.ci/run installs both), against
a real ``python -m stylenet demo``. Uploads a photo, picks a style, gets the result and checks its pixels; a
bad file gets its one line on the page. A screenshot of the page with a result is kept in build/screenshots/."""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import urllib.request

import pytest
from helpers import ROOT
from PIL import Image, ImageChops

PHOTO = ROOT / "assets" / "sample" / "rocket.jpg"  # 640x427
SCREENSHOTS = ROOT / "build" / "screenshots"
# As root in a container, with no network: no sandbox, and none of Chromium's calls home (refused here, slow).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1400,1300",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")  # Chromium's test camera, allowed without asking


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: .ci/run installs Debian's chromium and chromium-driver")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(driver), options=options)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _wait(browser, condition, seconds=90):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Gradio re-renders components as results arrive: an element found a moment ago may be gone, so look again.
    return WebDriverWait(browser, seconds, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def _css(browser, selector):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def _open(browser, demo):
    browser.get(demo.url)
    _wait(browser, lambda b: _css(b, "#photo input[type=file]"))


def _upload_and_stylise(browser, path, style):
    _css(browser, "#photo input[type=file]")[0].send_keys(str(path))
    _wait(browser, lambda b: path.stem in _css(b, "#photo")[0].text)  # the upload is listed (name and suffix apart)
    [label for label in _css(browser, "#style label") if label.text == style][0].click()
    _css(browser, "#stylise")[0].click()


def _took(browser, size=r"\d+x\d+"):
    # Gradio's progress overlay ("processing | 0.7/0.4s") can still sit in the box for a poll after the result
    # lands, so wait for the whole text to be the result line, not just to contain it.
    pattern = re.compile(size + r" in \d+\.\d\d s")
    return _wait(browser, lambda b: (t := _css(b, "#took")[0].text) and pattern.fullmatch(t) and t)


def test_upload_pick_a_style_and_get_the_result(browser, demo):
    _open(browser, demo)
    assert "Limits: uploads up to 50 MB" in _css(browser, "#limits")[0].text
    _upload_and_stylise(browser, PHOTO, "starry_night (five-paintings)")
    took = _took(browser, "640x427")
    images = _wait(browser, lambda b: len(found := _css(b, "#result img")) == 2 and found)
    before, after = (Image.open(io.BytesIO(urllib.request.urlopen(i.get_attribute("src"), timeout=30).read())).convert("RGB")
                     for i in images)
    photo = Image.open(PHOTO).convert("RGB")
    assert before.size == after.size == photo.size
    assert ImageChops.difference(after, photo).getbbox() is not None  # stylised, not the photo back
    assert sum(ImageChops.difference(after, photo).convert("L").getdata()) / (640 * 427) > 10  # visibly
    assert _css(browser, "#download")[0].is_displayed() and took.endswith(" s")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "demo-result.png"))


def test_a_bad_file_gets_one_line_on_the_page_and_the_next_photo_works(browser, demo, tmp_path):
    _open(browser, demo)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"GIF89a this is not a picture")
    _upload_and_stylise(browser, bad, "wave (five-paintings)")
    message = "broken.jpg: not a readable image"
    _wait(browser, lambda b: message in b.find_element("tag name", "body").text)
    body = browser.find_element("tag name", "body").text
    assert "Traceback" not in body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "demo-bad-file.png"))
    [label for label in _css(browser, "#style label") if label.text.startswith("your painting")][0].click()
    _wait(browser, lambda b: not any(e.is_displayed() for e in _css(b, "#stroke")))  # for networks only
    _open(browser, demo)
    _upload_and_stylise(browser, PHOTO, "udnie (five-paintings)")
    _took(browser, "640x427")


def test_a_photo_taken_with_the_webcam_is_stylised(browser, demo):
    _open(browser, demo)
    [e for e in _css(browser, "button, span") if e.text.startswith("…or take one with the webcam")][0].click()
    _wait(browser, lambda b: [x for x in _css(b, "#webcam button") if "Access Webcam" in x.text])[0].click()
    _wait(browser, lambda b: _css(b, "#webcam button[aria-label='capture photo']"))[0].click()
    [label for label in _css(browser, "#style label") if label.text == "udnie (five-paintings)"][0].click()
    _css(browser, "#stylise")[0].click()
    assert _took(browser)  # the camera's frame, stylised at its own size
