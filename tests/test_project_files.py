"""The files at the top of the repository that say what stylenet is under: LICENSE, CITATION.cff, pyproject."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT

# The papers stylenet implements: title → arXiv identifier.
PAPERS = {
    "A Neural Algorithm of Artistic Style": "1508.06576",  # Gatys, Ecker & Bethge 2015: the teacher
    "Perceptual Losses for Real-Time Style Transfer and Super-Resolution": "1603.08155",  # Johnson et al. 2016
    "Artistic style transfer for videos": "1604.08610",  # Ruder et al. 2016: video, flicker
    "Universal Style Transfer via Feature Transforms": "1705.08086",  # Li et al. 2017: WCT
    "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization": "1703.06868",  # Huang & Belongie 2017
    "A Learned Representation For Artistic Style": "1610.07629",  # Dumoulin et al. 2017: several styles
}


def test_the_licence_is_mit_in_the_file_and_in_pyproject():
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License\n") and "Copyright (c) 2026 the stylenet authors" in licence
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in licence
    # (tomllib is Python 3.11+; stylenet supports 3.10)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^license\s*=\s*(\{\s*text\s*=\s*"MIT"\s*\}|"MIT")\s*$', pyproject, re.MULTILINE)


def test_citation_cff_is_valid_yaml_and_cites_the_papers_stylenet_implements():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"] and cff["title"] and cff["authors"] and cff["license"] == "MIT"
    refs = {r["title"]: r for r in cff["references"]}
    for title, arxiv in PAPERS.items():
        assert title in refs, f"CITATION.cff does not cite {title!r}"
        ref = refs[title]
        assert ref["authors"] and ref["year"] and ref["type"]
        assert f"arXiv:{arxiv}" in [i["value"] for i in ref.get("identifiers", [])] and ref["url"].endswith(arxiv)


MAX_MODULE_LINES = 400  # a module past a few hundred lines is split along its seams (docs/ARCHITECTURE.md)


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "stylenet").rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules along their seams: {long}"


def test_every_package_and_top_module_is_in_the_layers_contract():
    """`lint-imports` (CI) checks only the layers it is told of: a new folder or top-level module must be placed."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    placed = {m.strip() for layer in layers for m in layer.split("|")}
    pkg = ROOT / "stylenet"
    here = {f"stylenet.{p.name}" for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    here |= {f"stylenet.{p.stem}" for p in pkg.glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert here == placed, f"in stylenet/ but not in the layers of pyproject.toml: {sorted(here - placed)}; " \
                           f"in the layers but gone: {sorted(placed - here)}"
    assert any(c["type"] == "acyclic_siblings" for c in contracts)


def code_map(text: str) -> set[str]:
    """The paths a code map names: its first ``` block, a name column (``a.py, b.py``; ``folder/``) then two or
    more spaces and what it is; two spaces of indent per folder level; deeper-indented lines continue the last."""
    block = text.split("```\n", 2)[1]
    names: set[str] = set()
    folders: list[str] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip() or indent >= 20:  # a description carried on to the next line
            continue
        level = indent // 2
        del folders[level:]
        column = re.split(r" {2,}", line.strip(), maxsplit=1)[0]
        for name in (n.strip() for n in column.split(",")):
            names.add("/".join([*folders, name.rstrip("/")]))
        if column.endswith("/") and "," not in column:
            folders.append(column.rstrip("/"))
    return names


OUTPUT_FOLDERS = {"checkpoints", "logs"}  # what training writes; not in a fresh clone


def test_the_architecture_code_map_names_every_module_and_only_files_that_exist():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = code_map(doc.split("## The code map", 1)[1])
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "stylenet").rglob("*.py") if p.name != "__init__.py"}
    assert not modules - named, f"docs/ARCHITECTURE.md's code map does not name: {sorted(modules - named)}"
    gone = {n for n in named if n not in OUTPUT_FOLDERS and not (ROOT / n).exists()}
    assert not gone, f"docs/ARCHITECTURE.md's code map names what is not in the repository: {sorted(gone)}"


def test_the_readme_tree_names_every_package_and_only_folders_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = code_map(readme.split("## What is where", 1)[1])
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "stylenet").glob("*/__init__.py")}
    assert not packages - named, f"the README's tree does not name: {sorted(packages - named)}"
    gone = {n for n in named if n not in OUTPUT_FOLDERS and not (ROOT / n).exists()}
    assert not gone, f"the README's tree names what is not in the repository: {sorted(gone)}"


def test_the_code_map_check_sees_a_missing_module_and_a_gone_file():
    text = "```\nstylenet/\n  cli/                x\n    infer.py          y\n                      more of y\n  a.py, b.py        z\n```\n"
    assert code_map(text) == {"stylenet", "stylenet/cli", "stylenet/cli/infer.py", "stylenet/a.py", "stylenet/b.py"}
