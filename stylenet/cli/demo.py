"""``python -m stylenet demo``: a web page to stylise with (stylenet/demo; needs ``pip install -e ".[demo]"``).

    python -m stylenet demo                                  # the shipped styles + checkpoints/, on http://127.0.0.1:7860
    python -m stylenet demo --ckpt checkpoints/wave/last.ckpt --port 8080
    python -m stylenet demo --host 0.0.0.0                   # other machines too (a warning says what that means)

The page lists the shipped models, every run under ``--checkpoints`` (train.py's checkpoints/) and each
``--ckpt``. It listens on loopback unless ``--host`` says otherwise, and makes no share link unless ``--share``.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import time
from typing import Sequence

from stylenet import zoo
from stylenet.cli.entry import UsageError, run_argv

DEFAULT_PORT = 7860  # Gradio's


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see python -m stylenet demo --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m stylenet demo", description="A web page to stylise photos and clips with stylenet's networks.")
    p.add_argument("--ckpt", action="append", default=[], metavar="PATH",
                   help="a checkpoint or pretrained folder to offer (repeatable); listed first")
    p.add_argument("--checkpoints", default="checkpoints", metavar="DIR",
                   help="offer every run found here (DIR/*/last.ckpt and pretrained folders; default: checkpoints)")
    p.add_argument("--no-shipped", action="store_true", help="leave out the models shipped with stylenet")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--share", action="store_true", help="ask Gradio for a public share link (needs the internet)")
    p.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1, mps")
    return p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, port: int) -> None:
    """The address exists on this machine and the port is free, checked before Gradio starts: its own messages
    for both mix up host and port ("Cannot find empty port" for a host that does not exist)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise UsageError(f"--host {host} is not an address this machine can listen on ({e.strerror}); "
                         "give 127.0.0.1 (this machine only) or 0.0.0.0 (every network)") from None
    with socket.socket(family, kind, proto) as s:
        try:
            s.bind(address)
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port or --host") from None


def sources(args: argparse.Namespace) -> list[str]:
    from stylenet.demo.catalogue import find_checkpoints

    shipped = [] if args.no_shipped else [name for name in zoo.names() if zoo.is_installed(name)]
    return [*args.ckpt, *shipped, *map(str, find_checkpoints(args.checkpoints))]


def main_(argv: list[str]) -> int:
    t0 = time.perf_counter()
    args = build_parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number (1..65535)")
    check_listen(args.host, args.port)
    try:
        from stylenet.demo import page
    except ImportError as e:
        raise UsageError(f"the web page needs Gradio ({e.name} is not installed): pip install -e \".[demo]\"") from None
    from stylenet.demo.catalogue import Catalogue

    catalogue = Catalogue(sources(args), device=args.device)
    for line in catalogue.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if not catalogue.choices:
        raise UsageError(f"nothing to stylise with: no shipped model, no run under {args.checkpoints}/ and no usable --ckpt")
    if not is_loopback(args.host):
        print(f"warning: --host {args.host}: anyone who can reach this machine on port {args.port} can use this page "
              "and its processor; there is no login. Stop it with Ctrl+C when done.", file=sys.stderr)
    if args.share:
        print("warning: --share makes a public link through Gradio's servers: anyone with it can use this page", file=sys.stderr)
    ui = page.build_page(catalogue)
    try:
        page.launch(ui, args.host, args.port, share=args.share)
    except OSError as e:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({e}); pick another --port") from None
    print(f"stylenet demo: {len(catalogue.choices)} styles on {ui.local_url} (ready in {time.perf_counter() - t0:.1f} s; "
          "Ctrl+C stops it)", flush=True)
    try:
        ui.block_thread()
    finally:
        ui.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_argv(main_, sys.argv[1:] if argv is None else argv, prog="python -m stylenet demo", usage_code=2)


if __name__ == "__main__":
    sys.exit(main())
