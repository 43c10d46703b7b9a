"""RunSpec: where a style run's config becomes plain values, once. The styles (``style=`` or ``styles=[...]``,
resolved by :func:`~stylenet.training.styles.resolve_styles`), each style's weight, the loss and the
data's crop size are read here; the checks, the resume rules and the module take the spec instead of
re-reading the config. A style's ``style_weight`` overrides the loss's: that rule is
:func:`stylenet.perceptual.loss.one_style_loss`, shared with the evaluation and the teacher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from stylenet.training.styles import resolve_styles


def style_entry(style: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint keeps of a style: name, painting, the size its Grams were computed at, its weight."""
    out = {"name": str(style["name"]), "image": str(style["image"]), "size": int(style["size"]) if style.get("size") else None}
    if style.get("style_weight") is not None:
        out["style_weight"] = float(style["style_weight"])
    return out


def style_factors(loss_weight: float, styles: Sequence[Mapping[str, Any]]) -> list[float]:
    """Each style's weight of a multi-style run as a factor on the loss's style weight (1 where it has none)."""
    return [float(st.get("style_weight", loss_weight)) / loss_weight for st in styles]


@dataclass(frozen=True)
class RunSpec:
    """A style run's styles, loss and crop size as plain types (they go into checkpoints)."""

    style: dict[str, Any]                    # the run's ``style`` node (a multi-style run's shared settings)
    styles: list[dict[str, Any]] | None      # ``styles=[...]``: every style; None for a one-style run
    loss: dict[str, Any]
    image_size: int

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> RunSpec:
        """Read once; one :class:`~stylenet.config.ConfigError` line for a bad style list."""
        return cls(
            style=OmegaConf.to_container(cfg.style, resolve=True),
            styles=resolve_styles(cfg),
            loss=OmegaConf.to_container(cfg.loss, resolve=True),
            image_size=int(cfg.data.image_size),
        )

    @property
    def paintings(self) -> list[dict[str, Any]]:
        """Every style the run trains: the listed ones, or the one style."""
        return self.styles or [self.style]

    @property
    def num_styles(self) -> int:
        return len(self.styles) if self.styles else 1

    @property
    def style_names(self) -> list[str]:
        """The names a checkpoint of this run holds (none for a one-style network)."""
        return [s["name"] for s in self.styles] if self.styles else []
