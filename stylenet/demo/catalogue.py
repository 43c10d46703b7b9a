"""What the web page offers to paint with: the shipped models, the user's own checkpoints and any painting.

A :class:`Choice` is one line of the page's style list: a style of a trained network (shipped, found under
checkpoints/, or given with ``--ckpt``), or "your painting" through universal decoders (the shipped AdaIN
decoder, or the user's own). :class:`Catalogue` finds them once at start-up and opens each file once: later
requests reuse the opened stylizer (a multi-style network switches style in place, which is safe because the
page runs one request at a time, :mod:`stylenet.demo.page`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylenet import zoo
from stylenet.errors import StylenetError, first_line
from stylenet.inference.stylizer import Stylizer
from stylenet.inference.universal_onnx import use_backend
from stylenet.networks.checkpoint import file_kind, load_file
from stylenet.networks.pretrained import is_pretrained_folder
from stylenet.universal.paintings import PaintingStylizer
from stylenet.universal.stylizer import UniversalStylizer

MAX_FOUND = 64  # checkpoints listed from checkpoints/: a page of choices, not a file browser
PAINTING = "your painting"


class DemoError(StylenetError, ValueError):
    """A request the page cannot do; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class Choice:
    label: str  # what the page shows, unique
    source: str  # a shipped model's name or a path
    kind: str  # "network" or "decoders"
    style: str | None = None  # a multi-style network's style name


def find_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """The runs under ``folder`` (train.py's checkpoints/): each run's last.ckpt and any pretrained folder,
    sorted, at most :data:`MAX_FOUND`. A missing folder is no checkpoints."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = sorted({*folder.glob("*/last.ckpt"), *folder.glob("last.ckpt"),
                    *(p.parent for p in folder.glob("**/config.json") if is_pretrained_folder(p.parent))})
    return found[:MAX_FOUND]


class Catalogue:
    """The choices and their opened stylizers. ``sources``: shipped names or paths, in the order shown;
    a file that cannot be opened is left out and reported in :attr:`skipped` (one line each)."""

    def __init__(self, sources: list[str | os.PathLike], device: str = "auto"):
        self.device = device
        self.choices: dict[str, Choice] = {}
        self.skipped: list[str] = []
        self._networks: dict[str, Stylizer] = {}
        self._decoders: dict[str, UniversalStylizer] = {}
        for source in dict.fromkeys(str(s) for s in sources):
            try:
                self._add(source)
            except StylenetError as e:
                self.skipped.append(first_line(e))

    def _add(self, source: str) -> None:
        path = zoo.resolve(source)
        name = source if source in zoo.MODELS else _short(path)
        if file_kind(load_file(path)) == "universal":
            # backend auto: onnxruntime on a CPU (1.5x PyTorch there, the same output), as infer.py
            self._decoders[source] = use_backend(UniversalStylizer.from_checkpoint(path, device=self.device))
            label = f"{PAINTING} ({name})"
            self.choices[label] = Choice(label, source, "decoders")
            return
        net = Stylizer.from_checkpoint(path, device=self.device)  # backend auto: onnxruntime on a CPU, as infer.py
        self._networks[source] = net
        for style in net.styles or [None]:
            label = f"{style or net.style_name or 'style'} ({name})"
            self.choices[label] = Choice(label, source, "network", style)

    @property
    def labels(self) -> list[str]:
        """Networks' styles first, then the painting choices."""
        return sorted(self.choices, key=lambda label: self.choices[label].kind == "decoders")

    def choice(self, label: str | None) -> Choice:
        if not label or label not in self.choices:
            raise DemoError(f"unknown style {label!r}: pick one of the list")
        return self.choices[label]

    def network(self, choice: Choice) -> Stylizer:
        """The trained network of ``choice``, set to its style."""
        net = self._networks[choice.source]
        if choice.style is not None:
            net.set_style(choice.style)
        return net

    def paintings(self, choice: Choice, painting: Any) -> PaintingStylizer:
        """The decoders of ``choice`` with ``painting`` (a path or PIL image) as the style."""
        return PaintingStylizer(self._decoders[choice.source], painting)

    def multi_style(self) -> list[Stylizer]:
        """The networks that hold several styles (a contact sheet shows one of them)."""
        return [n for n in self._networks.values() if len(n.styles) > 1]


def _short(path: Path) -> str:
    """A path as the page names it: relative to the working folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
