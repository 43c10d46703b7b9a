"""RunSpec (stylenet/training/spec.py): a style run's config read once, and training's style-weight rule."""

from __future__ import annotations

import pytest
from helpers import tiny_cfg

from stylenet.perceptual.loss import one_style_loss
from stylenet.training.spec import RunSpec, style_factors


def test_a_one_style_run_reads_its_style_loss_and_crop_size_once(tmp_path):
    spec = RunSpec.from_cfg(tiny_cfg(tmp_path, "style=udnie"))
    assert spec.styles is None and spec.num_styles == 1 and spec.style_names == []
    assert spec.paintings == [spec.style] and spec.style["name"] == "udnie" and spec.image_size == 32
    assert isinstance(spec.loss, dict) and "style_weight" in spec.loss  # plain types: they go into checkpoints


def test_a_multi_style_run_lists_every_style_with_the_runs_shared_settings(tmp_path):
    spec = RunSpec.from_cfg(tiny_cfg(tmp_path, "styles=[wave,udnie]"))
    assert spec.num_styles == 2 and spec.style_names == ["wave", "udnie"] and spec.paintings == spec.styles
    assert all(s["size"] == 64 for s in spec.styles)  # style.size=64 (TINY) applies to every listed style


def test_a_styles_own_weight_overrides_the_loss_and_scales_its_share_of_a_multi_style_loss():
    loss = {"style_weight": 10.0, "content_weight": 1.0}
    assert one_style_loss(loss, {"name": "a", "style_weight": 30}) == {"style_weight": 30.0, "content_weight": 1.0}
    assert one_style_loss(loss, {"name": "a"}) == loss and loss["style_weight"] == 10.0  # the caller's dict untouched
    assert style_factors(10.0, [{"style_weight": 30.0}, {}]) == pytest.approx([3.0, 1.0])
