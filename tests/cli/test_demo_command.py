"""``python -m stylenet demo``'s command line (stylenet/cli/demo.py): loopback by default, a warning for any
other address, one line for every mistake, and the one line that says how to get Gradio."""

from __future__ import annotations

import sys

import pytest
from helpers import make_zoo

import stylenet.demo
from stylenet.cli import demo


@pytest.fixture
def launched(monkeypatch, tmp_path):
    """Run the command up to serving: what it would launch is recorded instead."""
    pytest.importorskip("gradio")
    import gradio as gr

    from stylenet.demo import page

    monkeypatch.setenv("STYLENET_ZOO", str(make_zoo(tmp_path / "zoo")))
    calls = []

    def launch(ui, host, port, share=False):
        calls.append({"host": host, "port": port, "share": share, "labels": list(ui.fns)})
        ui.local_url = f"http://{host}:{port}/"

    monkeypatch.setattr(page, "launch", launch)
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)
    monkeypatch.chdir(tmp_path)
    return calls


def test_loopback_by_default_and_every_style_listed(launched, capsys):
    assert demo.main([]) == 0
    assert launched[0]["host"] == "127.0.0.1" and launched[0]["port"] == 7860 and launched[0]["share"] is False
    out, err = capsys.readouterr()
    assert "stylenet demo: 6 styles on http://127.0.0.1:7860/" in out and "warning" not in err


def test_any_other_address_is_warned_about(launched, capsys):
    assert demo.main(["--host", "0.0.0.0", "--port", "8080"]) == 0
    err = capsys.readouterr().err
    assert launched[0]["host"] == "0.0.0.0" and "warning: --host 0.0.0.0: anyone who can reach this machine on port 8080" in err


def test_a_broken_checkpoint_is_skipped_and_the_rest_served(launched, capsys, tmp_path):
    (tmp_path / "bad.ckpt").write_bytes(b"nope")
    assert demo.main(["--ckpt", str(tmp_path / "bad.ckpt")]) == 0
    err = capsys.readouterr().err
    assert err.count("skipped: ") == 1 and "bad.ckpt is not a readable checkpoint" in err


@pytest.mark.parametrize("argv, message", [
    (["--port", "0"], "--port 0 is not a port number (1..65535)"),
    (["--no-shipped", "--checkpoints", "nowhere"], "nothing to stylise with: no shipped model, no run under nowhere/"),
    (["--colour"], "unrecognized arguments: --colour (see python -m stylenet demo --help)"),
])
def test_mistakes_are_one_line_and_exit_2(launched, capsys, argv, message):
    assert demo.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not launched


def test_without_gradio_the_line_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio raises ImportError
    monkeypatch.delitem(sys.modules, "stylenet.demo.page", raising=False)
    monkeypatch.delattr(stylenet.demo, "page", raising=False)  # `from stylenet.demo import page` looks here first
    assert demo.main([]) == 2
    err = capsys.readouterr().err
    assert err == 'python -m stylenet demo: error: the web page needs Gradio (gradio is not installed): pip install -e ".[demo]"\n'


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
                                            ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_loopback(host, loopback):
    assert demo.is_loopback(host) is loopback


def test_a_host_that_does_not_exist_and_a_busy_port_are_one_line_each(launched, capsys):
    import socket

    assert demo.main(["--host", "999.1.1.1"]) == 2
    err = capsys.readouterr().err
    assert "--host 999.1.1.1 is not an address this machine can listen on" in err and err.count("\n") == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert demo.main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use); pick another --port" in err and not launched
