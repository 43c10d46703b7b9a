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
    photos: str = SHIPPED_PHOTOS  # what it learned from: their licence decides what the weights may be used for
    photos_license: str = "public domain and CC0: the weights may be used for any purpose (no BSDS500 or COCO photos)"
    license: str = "mit"  # the card's licence (the Hub's front matter)
    needs: str = ""  # overrides the user adds to rebuild it (photos that are not shipped)

    @property
    def command_line(self) -> str:
        """The training command its recipe is (``python -m stylenet zoo build NAME`` runs it, then writes the folder)."""
        return f"python -m stylenet {self.command} {' '.join(self.overrides)}" + (f" {self.needs}" if self.needs else "")


MODELS: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("five-paintings", "network",
             "one multi-style network of the five shipped paintings (Johnson et al. 2016 + conditional instance norm)",
             "train", "train",
             ("experiment=quick", "styles=[wave,starry_night,the_scream,shipwreck,udnie]", "trainer.max_steps=3000", "data=sample",
              "data.resize=[128,512]",
              "run_name=five-paintings"),
             styles=("wave", "starry_night", "the_scream", "shipwreck", "udnie")),
    # From the five shipped photos alone the decoder does not generalise: every painting came out in the photos'
    # browns (docs/pretrained.md). It learns from BSDS500's 200 training photos instead, whose terms (research and
    # education) pass to its weights: said in its card, in the README and by `zoo list`.
    ZooModel("adain", "decoders", "the AdaIN decoder (relu4_1, Huang & Belongie 2017): any painting, no training per style",
             "decoders", "decoders", ("recipe=cpu_adain", "data=folder", "run_name=adain"),
             photos="BSDS500 (the Berkeley Segmentation Data Set: its 200 training photos; 100 validation photos for the "
                    "validation loss)",
             photos_license="BSDS500 is licensed for non-commercial research and education only, and so are these weights; "
                            "for other uses rebuild it from photos you may use: python -m stylenet zoo build adain data.path=PHOTOS "
                            "data.val_path=OTHER_PHOTOS",
             license="other",
             needs="data.path=BSDS500/images/train data.val_path=BSDS500/images/val"),
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
