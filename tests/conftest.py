"""Shared test fixtures. Tests run offline on CPU; the real-weight ones skip when ../shared is absent."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import datasets
import huggingface_hub
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_WEIGHTS = SHARED / "weights" / "vgg16_features_hed_bsds500.pth"
SHARED_CONTENT = SHARED / "data" / "content"
sys.path.insert(0, str(Path(__file__).parent))  # `from conftest import ...` in test modules

requires_shared_weights = pytest.mark.skipif(
    not SHARED_WEIGHTS.exists(), reason=f"needs the real VGG16 weights at {SHARED_WEIGHTS}"
)


def tiny_meta(base_channels: int = 8, num_residual_blocks: int = 1, style: str = "wave") -> dict:
    """The metadata a stylenet checkpoint carries, for a tiny network made in a test."""
    from stylenet.networks.checkpoint import CheckpointMeta

    return CheckpointMeta(
        arch={"name": "TransformerNet", "base_channels": base_channels, "num_residual_blocks": num_residual_blocks},
        style={"name": style, "image": str(ROOT / "assets" / "styles" / f"{style}.jpg"), "size": 64},
        loss={"weights": "random", "content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2", "relu3_3", "relu4_3"],
              "style_layer_weights": None, "content_weight": 1e5, "style_weight": 1e10, "tv_weight": 1e2, "single_pass": False},
        train={"image_size": 32, "global_step": 0},
    ).to_dict()


def without_blocking(fn, fifo, seconds: float = 10.0):
    """``fn()`` in a thread, its result or error returned here. If it is still blocked (on opening ``fifo``)
    after ``seconds``, a writer that closes at once releases it with an EOF, and the test fails."""
    out: list = []

    def target():
        try:
            out.append(fn())
        except BaseException as e:  # re-raised in the test's thread
            out.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
        pytest.fail(f"blocked on the FIFO {fifo}")
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


@pytest.fixture(autouse=True)
def _few_threads():
    # Two cores: keep intra-op threads fixed so timings and test durations do not depend on the box.
    torch.set_num_threads(2)


@pytest.fixture()
def setup(tmp_path):
    """A folder with two photos, a style image and a tiny checkpoint of it (the evaluation's inputs)."""
    from helpers import make_checkpoint

    from stylenet.data.images import save_image

    torch.manual_seed(1)
    photos = tmp_path / "photos"
    photos.mkdir()
    save_image(torch.rand(1, 3, 30, 40), photos / "a.png")
    save_image(torch.rand(1, 3, 36, 28), photos / "b.jpg")
    (photos / "notes.txt").write_text("not an image, ignored")
    style = tmp_path / "style.png"
    save_image(torch.rand(1, 3, 48, 48), style)
    make_checkpoint(tmp_path / "tiny.ckpt", style)
    return tmp_path


@pytest.fixture(scope="module")
def stylizer():
    """A Stylizer of :func:`helpers.tiny_net` on the CPU (torch backend), shared by a test module."""
    from helpers import tiny_net

    from stylenet.inference.stylizer import Stylizer

    return Stylizer(tiny_net(), tiny_meta(), device="cpu", backend="torch")


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, tmp_path):
    """No test reads or writes the user's cache (the rows infer.py --adapt learns): each test has its own."""
    monkeypatch.setenv("STYLENET_CACHE", str(tmp_path / "stylenet_cache"))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test may reach the network; datasets' cache goes to tmp."""
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A real ``python -m stylenet demo`` with the shipped models, shared by the API and browser tests (tests/demo):
    starting Gradio and torch costs seconds."""
    from helpers import DemoServer, free_port

    try:
        import gradio  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must test the web page: install the demo extra (pip install -e '.[dev,demo,cluster,search]')")
        pytest.skip("the web page needs the demo extra: pip install -e '.[dev,demo]'")
    cwd = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(cwd / "gradio"),
           "STYLENET_CACHE": str(cwd / "cache")}
    env.pop("STYLENET_ZOO", None)  # the shipped models, as a user gets them
    proc = subprocess.Popen([sys.executable, "-m", "stylenet", "demo", "--port", str(port), "--checkpoints", str(cwd / "none")],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = DemoServer(proc, f"http://127.0.0.1:{port}/")
    try:
        server.wait_ready()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
