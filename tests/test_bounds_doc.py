"""docs/bounds.md states every bound once: each row's constant exists and holds the value the row states."""

from __future__ import annotations

import importlib
import re

import pytest
from conftest import ROOT

ROW = re.compile(r"^\| `(stylenet(?:\.\w+)+)\.([A-Z_]+)` \| ([0-9.]+) \|", re.M)
ROWS = ROW.findall((ROOT / "docs" / "bounds.md").read_text(encoding="utf-8"))


def test_the_table_has_rows():
    assert len(ROWS) >= 30


@pytest.mark.parametrize("module, name, value", ROWS, ids=[f"{m.rsplit('.', 1)[-1]}.{n}" for m, n, _ in ROWS])
def test_each_row_is_the_codes_value(module, name, value):
    if module.startswith("stylenet.demo"):
        pytest.importorskip("gradio")
    assert float(getattr(importlib.import_module(module), name)) == float(value)
