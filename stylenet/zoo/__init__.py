"""The shipped models: pretrained folders inside the installed package, found by name, offline.

    from stylenet import zoo
    zoo.names()                      # ['five-paintings', 'adain']
    zoo.folder("five-paintings")     # .../site-packages/stylenet/zoo/five-paintings (model.safetensors, config.json, README.md)
    Stylizer.from_pretrained("five-paintings", style="starry_night")

Each model is declared once here (:data:`MODELS`): what it is and the recipe that trains it, so that
``python -m stylenet zoo build NAME`` (stylenet/cli/zoo.py) retrains it whenever a recipe improves. The folders
come from that command (``[tool.setuptools.package-data]`` puts them in the wheel). ``STYLENET_ZOO=/some/folder``
looks for the folders there instead (tests; a zoo of one's own).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from stylenet.errors import StylenetError

ZOO_ENV = "STYLENET_ZOO"
SHIPPED_PHOTOS = ("the photos shipped in assets/sample (public domain: NASA, and scikit-image's CC0 photos; assets/SOURCES.md): "
                  "four trained on, one held out for validation (data=sample)")


class ZooError(StylenetError, LookupError):
    """A shipped model that is not known, or not in this installation."""


@dataclass(frozen=True)
class ZooModel:
    """One shipped model and its recipe: ``command`` (train or decoders) composed from ``config``
    (conf/train.yaml or conf/decoders.yaml) with ``overrides``."""

    name: str
    kind: str  # "network" (a trained network, its styles by name) or "decoders" (universal: any painting)
    summary: str
    command: str
    config: str
    overrides: tuple[str, ...]
    styles: tuple[str, ...] = ()

    @property
    def command_line(self) -> str:
        return f"python -m stylenet {self.command} {' '.join(self.overrides)}"


MODELS: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("five-paintings", "network",
             "one multi-style network of the five shipped paintings (Johnson et al. 2016 + conditional instance norm)",
             "train", "train",
             ("experiment=quick", "styles=[wave,starry_night,the_scream,shipwreck,udnie]", "trainer.max_steps=3000", "data=sample",
              "run_name=five-paintings"),
             styles=("wave", "starry_night", "the_scream", "shipwreck", "udnie")),
    ZooModel("adain", "decoders", "the AdaIN decoder (relu4_1, Huang & Belongie 2017): any painting, no training per style",
             "decoders", "decoders", ("recipe=cpu_adain", "data=sample", "run_name=adain")),
)}
DEFAULT_NETWORK, DEFAULT_DECODERS = "five-paintings", "adain"  # what infer.py uses with no --ckpt


def names() -> list[str]:
    return list(MODELS)


def root() -> Path:
    """Where the shipped folders are: $STYLENET_ZOO, or this package's folder in the installation."""
    return Path(os.environ[ZOO_ENV]) if os.environ.get(ZOO_ENV) else Path(str(files("stylenet.zoo")))


def model(name: str) -> ZooModel:
    if name not in MODELS:
        raise ZooError(f"no shipped model is called {name!r}; the shipped models are {', '.join(MODELS)}")
    return MODELS[name]


def is_installed(name: str) -> bool:
    return (root() / model(name).name / "config.json").is_file()


def folder(name: str) -> Path:
    """The folder of the shipped model ``name``; one line when it is unknown or absent."""
    m = model(name)
    if not is_installed(name):
        raise ZooError(f"the shipped model {name} is not in this installation: {root() / name} has no config.json; "
                       f"build it with python -m stylenet zoo build {name} (or give your own --ckpt)")
    return root() / m.name


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A shipped model's name → its folder; anything else is a path, returned as it is."""
    return folder(name_or_path) if isinstance(name_or_path, str) and name_or_path in MODELS else Path(name_or_path)
