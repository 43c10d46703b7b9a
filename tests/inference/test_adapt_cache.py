"""The cache of learned rows (stylenet/inference/adapt_cache.py): its folder, and a damaged or poisoned entry is
ignored with a warning, learned again and replaced, never used."""

from __future__ import annotations

import logging
import os
import shutil

import pytest
import safetensors.torch
import torch
from conftest import ROOT
from helpers import LOSS, make_multi_checkpoint

from stylenet.inference.adapt import adapt_style
from stylenet.inference.adapt_cache import CACHE_ENV, RowCache, cache_root, default_folder
from stylenet.networks.checkpoint import load_network

STARRY = ROOT / "assets" / "styles" / "starry_night.jpg"
FAST = dict(seconds=None, steps=2, init="mean")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny networks: faster than two threads (tests/inference/test_adapt.py)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    net, meta = load_network(make_multi_checkpoint(tmp_path_factory.mktemp("net") / "multi.ckpt"))
    return net, {**meta, "loss": dict(LOSS)}


def test_the_folder_is_stylenet_cache_else_xdg_else_home(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert default_folder() == tmp_path / "mine" / "adapt"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "stylenet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_folder() == tmp_path / "home" / ".cache" / "stylenet" / "adapt"


def test_the_default_folder_is_used_when_none_is_given(base, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    a = adapt_style(*base, STARRY, **FAST)
    assert a.path.parent == tmp_path / "c" / "adapt" and a.path.is_file()


def _poison(path, how, other):
    tensors = safetensors.torch.load_file(str(path))
    with safetensors.safe_open(str(path), "pt") as f:
        meta = f.metadata()
    if how == "garbage":
        path.write_bytes(os.urandom(300))
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "nan":
        name = next(iter(tensors))
        tensors[name][0] = float("nan")
        safetensors.torch.save_file(tensors, str(path), metadata=meta)
    elif how == "shape":
        name = next(iter(tensors))
        tensors[name] = torch.ones(3)
        safetensors.torch.save_file(tensors, str(path), metadata=meta)
    elif how == "dtype":
        tensors = {k: v.double() for k, v in tensors.items()}
        safetensors.torch.save_file(tensors, str(path), metadata=meta)
    elif how == "another key":  # a valid row of another painting, copied under this painting's name
        shutil.copy(other, path)
    elif how == "no metadata":
        safetensors.torch.save_file(tensors, str(path))
    elif how == "a folder":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("how", ["garbage", "truncated", "empty", "nan", "shape", "dtype", "another key", "no metadata", "a folder"])
def test_a_damaged_or_poisoned_entry_is_ignored_learned_again_and_replaced(base, tmp_path, caplog, how):
    net, meta = base
    good = adapt_style(net, meta, STARRY, cache_folder=tmp_path, **FAST)
    other = adapt_style(net, meta, ROOT / "assets" / "styles" / "udnie.jpg", cache_folder=tmp_path, **FAST)
    _poison(good.path, how, other.path)
    with caplog.at_level(logging.WARNING):
        again = adapt_style(net, meta, STARRY, cache_folder=tmp_path, **FAST)
    assert not again.cached and again.steps == 2
    assert "is ignored" in caplog.text and "learning it again" in caplog.text
    assert all(torch.equal(v, again.net.state_dict()[k]) for k, v in good.net.state_dict().items())
    if how != "a folder":  # replaced by the row learned again, which the next call uses
        assert adapt_style(net, meta, STARRY, cache_folder=tmp_path, **FAST).cached


def test_a_cache_that_cannot_be_written_costs_a_warning_not_the_run(base, tmp_path, caplog):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    with caplog.at_level(logging.WARNING):
        a = adapt_style(*base, STARRY, cache_folder=blocked / "adapt", **FAST)
    assert a.steps == 2 and a.path is None and "cannot write the learned row" in caplog.text


def test_an_absent_entry_is_no_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert RowCache(tmp_path).get("0" * 64, {"a": 3}) is None
    assert caplog.text == ""
