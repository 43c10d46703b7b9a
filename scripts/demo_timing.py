"""The web page's figures (docs/demo.md): start-up time, and one stylisation through the page in a real browser
at 1024 px and at 3000 px, plus the same 1024 px request through gradio_client; saves the page's screenshot.

    pip install -e ".[dev,demo]"; apt-get install chromium chromium-driver   # Debian's; no browser download
    python scripts/demo_timing.py [--style "wave (five-paintings)"] [--screenshot docs/images/demo.jpg]

The photos are assets/sample/rocket.jpg (640x427) enlarged to 1024 and 3000 px on the long side (Lanczos): a
photo that size, not a sharper one, which is all the timing needs. Run it with nothing else busy.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1400,1300")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, cwd: Path) -> tuple[subprocess.Popen, float]:
    t0 = time.perf_counter()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "stylenet", "demo", "--port", str(port), "--checkpoints", str(cwd / "none")],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith("stylenet demo:"):
            return proc, time.perf_counter() - t0
    raise SystemExit("the demo did not start")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def through_page(d, url: str, photo: Path, style: str) -> tuple[float, str]:
    """Seconds from the click on Stylise to the result's size and time on the page; the page's own line."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d.get(url)
    wait = WebDriverWait(d, 300, poll_frequency=0.05)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))
    d.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(photo))
    wait.until(lambda b: photo.stem in b.find_element(By.CSS_SELECTOR, "#photo").text)
    [e for e in d.find_elements(By.CSS_SELECTOR, "#style label") if e.text == style][0].click()
    t0 = time.perf_counter()
    d.find_element(By.CSS_SELECTOR, "#stylise").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#result img")) == 2 and " in " in b.find_element(By.CSS_SELECTOR, "#took").text)
    return time.perf_counter() - t0, d.find_element(By.CSS_SELECTOR, "#took").text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--style", default="wave (five-paintings)")
    p.add_argument("--screenshot", default=None, help="save the page with the 1024 px result here (.png or .jpg)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="demo-timing-"))
    photos = {}
    with Image.open(ROOT / "assets" / "sample" / "rocket.jpg") as im:
        for side in (1024, 3000):
            photos[side] = work / f"rocket_{side}.jpg"
            im.resize((side, round(im.height * side / im.width)), Image.LANCZOS).save(photos[side], quality=92)
    port = free_port()
    proc, ready = start(port, work)
    url = f"http://127.0.0.1:{port}/"
    rows = [f"| start-up (command to serving) | {ready:.1f} s |"]
    try:
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False)
        t0 = time.perf_counter()
        took = client.predict(handle_file(str(photos[1024])), None, args.style, None, 1.0, False, 1.0, "photo's size",
                              api_name="/stylise")[2]
        rows.append(f"| 1024 px through gradio_client (request to files back) | {time.perf_counter() - t0:.2f} s (server: {took}) |")
        d = browser()
        try:
            for side in (1024, 3000):
                seconds, took = through_page(d, url, photos[side], args.style)
                rows.append(f"| {side} px through the page (click to result shown) | {seconds:.2f} s (server: {took}) |")
                if side == 1024 and args.screenshot:  # PNG from the browser; .jpg is a third of the size
                    Image.open(io.BytesIO(d.get_screenshot_as_png())).convert("RGB").save(args.screenshot, quality=88)
        finally:
            d.quit()
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"style {args.style}\n\n| what | time |\n|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
