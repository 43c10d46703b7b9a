"""Choosing a multi-style network's style, or a blend of its styles (Dumoulin et al. 2017, §4: blending
the conditional norms' scales and shifts blends the styles): the one parser of ``--style NAME`` and
``--mix wave:0.7,udnie:0.3`` for infer.py, the evaluation and :class:`~stylenet.inference.stylizer.Stylizer`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from stylenet.errors import StylenetError
from stylenet.perceptual.loss import one_style_loss


class MixError(StylenetError, ValueError):
    """A style name or mix that does not fit the network; the message says what would."""


StyleChoice = str | Mapping[str, float] | None
# Mix and blend weights are relative (normalised to sum 1); a bound keeps their sum finite in float32
# (3e38 + 3e38 is inf, and inf / inf a flat grey image).
MAX_STYLE_WEIGHT = 1e6


def check_style_weight(w: float, what: str) -> float:
    """``w`` if it is a usable relative weight (0..MAX_STYLE_WEIGHT); one :class:`MixError` line otherwise."""
    w = float(w)
    if not (math.isfinite(w) and 0 <= w <= MAX_STYLE_WEIGHT):
        raise MixError(f"the weight of {what} is {w:g}; weights are numbers from 0 to {MAX_STYLE_WEIGHT:g} "
                       "(they are normalised to sum 1)")
    return w


def parse_mix(text: str) -> dict[str, float]:
    """``"wave:0.7,udnie:0.3"`` → ``{"wave": 0.7, "udnie": 0.3}``; one :class:`MixError` line for anything else."""
    out: dict[str, float] = {}
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        name, sep, weight = part.rpartition(":")
        if not sep or not name.strip():
            raise MixError(f"--mix {text!r}: write NAME:WEIGHT pairs separated by commas, e.g. wave:0.7,udnie:0.3")
        try:
            value = float(weight)
        except ValueError:
            raise MixError(f"--mix {text!r}: {weight!r} is not a number (in {part!r})") from None
        name = name.strip()
        if name in out:
            raise MixError(f"--mix {text!r} names {name} twice; give each style once")
        out[name] = value
    if not out:
        raise MixError("--mix is empty; write NAME:WEIGHT pairs, e.g. wave:0.7,udnie:0.3")
    return out


def mix_vector(choice: StyleChoice, names: Sequence[str]) -> torch.Tensor | None:
    """The weight per style (in the network's order, summing to 1) for a style name or a {name: weight}
    mix; None for a one-style network asked for nothing (or for its own style)."""
    names = list(names)
    if not names:  # a one-style network
        if choice is None:
            return None
        raise MixError("this network holds one style; --style NAME and --mix choose among the styles of a multi-style "
                       "network (train one with styles=[a,b,...])")
    listed = ", ".join(names)
    if choice is None:
        raise MixError(f"this network holds {len(names)} styles ({listed}): choose one with --style NAME, or blend them "
                       f"with --mix {names[0]}:0.5,{names[1]}:0.5")
    if isinstance(choice, str):
        choice = {choice: 1.0}
    weights = torch.zeros(len(names))
    for name, w in choice.items():
        if name not in names:
            raise MixError(f"unknown style {name!r}; this network holds {listed}")
        weights[names.index(name)] = check_style_weight(w, name)
    if float(weights.sum()) <= 0:
        raise MixError("every weight of the mix is 0; give at least one style a positive weight")
    return weights / weights.sum()


def describe(choice: StyleChoice) -> str:
    """A label for file names: ``udnie`` or ``wave0.7+udnie0.3``."""
    if choice is None:
        return ""
    if isinstance(choice, str):
        return choice
    return "+".join(f"{n}{float(w):g}" for n, w in choice.items() if float(w) > 0)


def meta_for_style(meta: Mapping, style_name: str | None, source: str) -> Mapping:
    """The metadata whose loss scores ``source``'s output: a multi-style network's ``style_name`` as if it held
    only that style (one line if none is named or the name is unknown); a one-style network's own."""
    names = [s["name"] for s in meta.get("styles") or []]
    if not names:
        return meta
    if not style_name:
        raise MixError(f"{source} holds {len(names)} styles ({', '.join(names)}): choose one with style_name=NAME")
    return one_style_meta(meta, style_name)


def one_style_meta(meta: Mapping, name: str) -> dict:
    """A multi-style checkpoint's metadata as if it held only ``name``: its painting, size and style weight
    (what the evaluation needs to rebuild that style's training loss)."""
    names = [s["name"] for s in meta.get("styles") or []]
    if name not in names:
        raise MixError(f"unknown style {name!r}; this network holds {', '.join(names)}")
    style = dict(meta["styles"][names.index(name)])
    loss = one_style_loss(meta.get("loss") or {}, style)
    style.pop("style_weight", None)
    return {**meta, "style": style, "loss": loss}
