"""The shipped models by name (stylenet/zoo): found in the installation or in $STYLENET_ZOO, one line when absent."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT
from helpers import make_zoo

from stylenet import zoo
from stylenet.config import compose
from stylenet.inference.open import open_stylizer
from stylenet.inference.stylizer import Stylizer


def test_a_missing_shipped_model_is_one_line_naming_the_command_that_builds_it(tmp_path, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path))
    with pytest.raises(zoo.ZooError, match="the shipped model five-paintings is not in this installation: .*zoo build five-paintings"):
        Stylizer.from_pretrained("five-paintings")
    with pytest.raises(zoo.ZooError, match="no shipped model is called 'vangogh'; the shipped models are five-paintings, adain"):
        zoo.folder("vangogh")
    assert not zoo.is_installed("adain")


def test_names_resolve_to_folders_of_the_zoo_root(tmp_path, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, str(make_zoo(tmp_path)))
    assert zoo.names() == ["five-paintings", "adain"]
    assert zoo.folder("adain") == tmp_path / "adain" and zoo.resolve("adain") == tmp_path / "adain"
    assert zoo.resolve("my/own.ckpt") == zoo.Path("my/own.ckpt")  # not a name: a path
    s = Stylizer.from_pretrained("five-paintings", style="starry_night", device="cpu", backend="torch")
    assert s.styles == list(zoo.MODELS["five-paintings"].styles)
    out = open_stylizer("adain", style=ROOT / "assets" / "styles" / "wave.jpg", transform="adain", device="cpu",
                        encoder_weights="random")(torch.rand(1, 3, 32, 40))
    assert out.shape == (1, 3, 32, 40)


def test_without_the_variable_the_root_is_the_installed_package(monkeypatch):
    monkeypatch.delenv(zoo.ZOO_ENV, raising=False)
    assert zoo.root() == zoo.Path(zoo.__file__).parent


def test_the_recipes_compose():
    for m in zoo.MODELS.values():
        cfg = compose(m.config, list(m.overrides))
        assert cfg.run_name == m.name
    assert compose("train", list(zoo.MODELS["five-paintings"].overrides)).styles == list(zoo.MODELS["five-paintings"].styles)
    assert list(compose("decoders", list(zoo.MODELS["adain"].overrides)).decoders.levels) == [4]
