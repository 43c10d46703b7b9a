"""The loss terms of stylenet as named objects, registered in one place, read by everything that lists them.

A term is registered beside its function (:func:`register`), so a new term touches that file and the config
that holds its weight: the training logs (``train/<name>``), the teacher's curves and their CSV columns
(:func:`stylenet.teacher.scores.curve_columns`), the evaluation's scores (``net_<name>``) and the sum that is
``total`` all come from here, in registration order.

Kinds, by what a term looks at:

* ``image``: one image against the photo and the painting, through the loss network (content, style and
  TV in :mod:`stylenet.perceptual.loss`); computed by :class:`~stylenet.perceptual.loss.PerceptualLoss`, so
  the training, the Gatys teacher and the evaluation all have it. ``compute(weight, inputs)`` gets an
  :class:`ImageTermInputs`; its weight is the loss config's key (``loss.<weight_key>``).
* ``network``: the transform network itself while training (temporal motion and noise in
  :mod:`stylenet.training.temporal`); its weight is a key of ``module.temporal``.
* ``frames``: one frame of a film against the previous result (the video teacher's temporal term in
  :mod:`stylenet.teacher.video`); its weight is a key of the gatys command.

Each ``compute`` takes the weight first and returns the *weighted* scalar, as every term is reported (the
function applies the weight where its formula always did, so the numbers stay bit for bit); the caller
skips a term whose weight is 0, which then costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

KINDS = ("image", "network", "frames")


@dataclass(frozen=True)
class LossTerm:
    name: str  # the key in every loss dict, log, curve and CSV column
    weight_key: str  # the config key of its weight, within its kind's config group
    kind: str  # image | network | frames
    compute: Callable[..., torch.Tensor]  # compute(weight, ...) -> the weighted scalar


@dataclass
class ImageTermInputs:
    """What an ``image`` term may look at: the image scored, the loss network's features of it and of the
    photo, the loss (its style targets and settings) and each sample's style (None: one style)."""

    output: torch.Tensor
    features: Mapping[str, torch.Tensor]
    content_features: Mapping[str, torch.Tensor]
    loss: torch.nn.Module
    style_index: torch.Tensor | None = None


_REGISTRY: dict[str, LossTerm] = {}


def register(term: LossTerm) -> LossTerm:
    """Add ``term``; registering the same name again replaces it in place (a module reloaded)."""
    if term.kind not in KINDS:
        raise ValueError(f"loss term {term.name!r}: kind {term.kind!r} is not one of {', '.join(KINDS)}")
    if term.name == "total":
        raise ValueError("'total' is the sum of the terms, not a term")
    clash = next((t for t in _REGISTRY.values() if t.name != term.name and t.kind == term.kind and t.weight_key == term.weight_key), None)
    if clash is not None:
        raise ValueError(f"loss term {term.name!r}: weight key {term.weight_key!r} is already {clash.name!r}'s")
    _REGISTRY[term.name] = term
    return term


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> LossTerm:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no loss term {name!r} (registered: {', '.join(_REGISTRY)})") from None


def all_terms(kind: str | None = None) -> list[LossTerm]:
    """The registered terms (of one kind), in registration order: the order of logs, columns and the sum."""
    return [t for t in _REGISTRY.values() if kind is None or t.kind == kind]


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(t.name for t in all_terms(kind))
