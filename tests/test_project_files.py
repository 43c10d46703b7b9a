"""The files at the top of the repository that say what stylenet is under: LICENSE, CITATION.cff, pyproject."""

from __future__ import annotations

import re

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
