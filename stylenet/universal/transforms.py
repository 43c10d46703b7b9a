"""Feature transforms that put a painting's statistics on a photo's VGG features.

* WCT (Li et al. 2017, §3.2): whiten the photo's features f_c (remove their mean and decorrelate them:
  E_c D_c^{-1/2} E_c^T (f_c - m_c), from the eigendecomposition of their covariance) then colour them
  with the painting's covariance (E_s D_s^{1/2} E_s^T · + m_s). The result has the painting's mean and
  covariance and keeps the photo's spatial structure.
* AdaIN (Huang & Belongie 2017, eq. 8): the same with the mean and standard deviation of each channel
  only — a diagonal covariance; cheaper, weaker.
* EFDM (Zhang et al. 2022, "Exact Feature Distribution Matching for Arbitrary Style Transfer and Domain
  Generalization", eq. 7): each channel's values replaced by the painting's, rank for rank (sort matching), so
  every channel has the painting's whole distribution, not only its first two moments. Like AdaIN it runs at
  relu4_1 through AdaIN's decoder.

Both blend with the photo's features by ``alpha`` (Li et al. eq. 4: alpha·f̂ + (1-alpha)·f_c) and take
several paintings with weights, blending their transformed features (Li et al. §4, "interpolation").

Numerics: covariances and eigendecompositions are in float64 with eps·I added (a symmetric
positive-definite matrix; :func:`_eigh`), and directions whose eigenvalue is not above ``threshold``
(Li et al. keep eigenvalues > 1e-5) are dropped rather than divided by. A flat, single-colour photo or
painting has zero covariance: every direction is dropped, the whitened features are zero, and the
result is the painting's mean (a flat photo takes the painting's average colour; a flat painting gives
its colour). Never a NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

EPS = 1e-5  # added to the covariance's diagonal (and to AdaIN's variance)
THRESHOLD = 1e-5  # eigenvalues at or below eps + threshold are dropped (Li et al.: 1e-5)


def _flat(f: torch.Tensor) -> torch.Tensor:
    """C×H×W or 1×C×H×W → C×N float64."""
    if f.dim() == 4:
        if f.shape[0] != 1:
            raise ValueError(f"one image at a time, got a batch of {f.shape[0]}")
        f = f[0]
    return f.reshape(f.shape[0], -1).double()


def _eigh(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` of a symmetric float64 matrix, single-threaded on the CPU: a C×C covariance
    (C ≤ 512) gains nothing from threads, and on this machine's two cores shared with another job the
    multi-threaded LAPACK call stalled for 1.7–7 s per matrix where one thread takes 0.02 s (measured)."""
    if cov.device.type != "cpu":
        return torch.linalg.eigh(cov)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(cov)
    finally:
        torch.set_num_threads(threads)


def _centred_eigh(f: torch.Tensor, eps: float, threshold: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean (C×1), centred features, kept eigenvalues and their eigenvectors of the covariance."""
    mean = f.mean(1, keepdim=True)
    centred = f - mean
    n = max(f.shape[1] - 1, 1)  # one pixel (a 1×1 map): covariance 0, not a division by zero
    cov = centred @ centred.T / n + eps * torch.eye(f.shape[0], dtype=f.dtype, device=f.device)
    values, vectors = _eigh(cov)
    keep = values > eps + threshold
    return mean, centred, values[keep], vectors[:, keep]


class WctStyle(NamedTuple):
    """What WCT needs from a painting's features: their mean (C×1) and colouring matrix E_s D_s^½ E_s^T (C×C),
    float64. :func:`wct_style` computes it; a :class:`~stylenet.universal.style_set.StyleSet` keeps it per layer,
    so a folder of photos pays the painting's covariance once."""

    mean: torch.Tensor
    colour: torch.Tensor


def wct_style(style: torch.Tensor, eps: float = EPS, threshold: float = THRESHOLD) -> WctStyle:
    ms, _, ds, es = _centred_eigh(_flat(style), eps, threshold)
    return WctStyle(ms, (es * ds.sqrt()) @ es.T)


def wct(content: torch.Tensor, style: torch.Tensor | WctStyle, eps: float = EPS, threshold: float = THRESHOLD) -> torch.Tensor:
    """Whitening-colouring transform of one image's features (C×H×W or 1×C×H×W) towards ``style``'s
    (C×H'×W', any size, or its :func:`wct_style`): same shape and dtype as ``content``, with ``style``'s mean and
    covariance. The whitening and colouring matrices are multiplied first (C×C), so the features go through one
    product instead of four: at 1024×768 that product at relu1_1 is 64×64 by 64×786,432 in float64."""
    painting = style if isinstance(style, WctStyle) else wct_style(style, eps, threshold)
    _, centred, dc, ec = _centred_eigh(_flat(content), eps, threshold)
    whiten = (ec * dc.rsqrt()) @ ec.T
    coloured = (painting.colour @ whiten) @ centred + painting.mean
    return coloured.reshape(content.shape).to(content.dtype)


class AdainStyle(NamedTuple):
    """What AdaIN needs from a painting's features: each channel's mean and sqrt(var + eps) (C×1, float64).
    :func:`adain_style` computes them; a :class:`~stylenet.universal.style_set.StyleSet` keeps them per layer
    (from a 1024 px painting they were most of AdaIN's 0.15 s per photo at 1024×768)."""

    mean: torch.Tensor
    std: torch.Tensor


def adain_style(style: torch.Tensor, eps: float = EPS) -> AdainStyle:
    fs = _flat(style)
    return AdainStyle(fs.mean(1, keepdim=True), (fs.var(1, unbiased=False, keepdim=True) + eps).sqrt())


def adain(content: torch.Tensor, style: torch.Tensor | AdainStyle, eps: float = EPS) -> torch.Tensor:
    """Adaptive instance normalisation: each channel of ``content`` given ``style``'s mean and standard
    deviation (Huang & Belongie 2017); ``style`` is features (any size) or their :func:`adain_style`. Standard
    deviations are sqrt(var + eps): a flat channel is scaled by a finite number, its (zero) deviations stay zero.
    The photo's statistics are taken in its own dtype and folded with the painting's into one scale and shift per
    channel (float64, C×1): the features themselves are never copied to float64."""
    painting = style if isinstance(style, AdainStyle) else adain_style(style, eps)
    f = content[0] if content.dim() == 4 and content.shape[0] == 1 else content
    if f.dim() != 3:
        raise ValueError(f"one image at a time, got features of shape {tuple(content.shape)}")
    f = f.reshape(f.shape[0], -1)
    var, mean = torch.var_mean(f, 1, unbiased=False, keepdim=True)
    scale = painting.std.to(f.device) / (var.double() + eps).sqrt()
    # centred first: a flat channel's scale is std_s / sqrt(eps), and f·scale − mean·scale would cancel badly
    return torch.addcmul(painting.mean.to(f.device, f.dtype), f - mean, scale.to(f.dtype)).reshape(content.shape)


def adain_batch(content: torch.Tensor, style: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """:func:`adain` of each photo's features (B×C×H×W) towards its own painting's (B×C×H'×W'), in the features'
    dtype: the AdaIN decoder's training (stylenet/training/decoder_style.py)."""
    if content.shape[:2] != style.shape[:2]:
        raise ValueError(f"one painting per photo: content {tuple(content.shape)}, style {tuple(style.shape)}")
    return _adain_flat(content.flatten(2), style.flatten(2), eps).reshape(content.shape)


def _adain_flat(fc: torch.Tensor, fs: torch.Tensor, eps: float) -> torch.Tensor:
    """AdaIN on …×C×N features: each channel given the style's mean and sqrt(var + eps)."""
    mc, ms = fc.mean(-1, keepdim=True), fs.mean(-1, keepdim=True)
    sc = (fc.var(-1, unbiased=False, keepdim=True) + eps).sqrt()
    ss = (fs.var(-1, unbiased=False, keepdim=True) + eps).sqrt()
    return (fc - mc) / sc * ss + ms


def efdm(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Exact feature distribution matching: in each channel, the photo's k-th smallest of N values becomes the mean of
    the painting's sorted values over the same fraction of ranks, [k/N, (k+1)/N] (with as many values as the photo,
    exactly the painting's k-th smallest; any other count keeps the painting's mean exactly). After a ReLU many values
    tie at 0; a run of tied values takes the mean over its ranks together, so the result does not depend on the
    order a sort leaves ties in (which would paint a raster-order ramp)."""
    fc, fs = _flat(content).float(), _flat(style).float()  # float32 but the sums: sorting needs no more
    n, m = fc.shape[1], fs.shape[1]
    xs, order = fc.sort(1)
    ys = fs.sort(1).values.double()
    # the integral of the painting's quantile function up to k/N, for k = 0..N, from its running sums
    sums = torch.cat([torch.zeros_like(ys[:, :1]), ys.cumsum(1)], 1)
    pos = torch.arange(n + 1, dtype=torch.float64, device=ys.device) * (m / n)
    j = pos.floor().long().clamp(max=m - 1)
    frac = (pos - j)[None].expand(ys.shape[0], -1)
    j = j[None].expand(ys.shape[0], -1)
    integral = (sums.gather(1, j) + frac * ys.gather(1, j)) / m
    per_rank = n * (integral[:, 1:] - integral[:, :-1])
    run = torch.cat([torch.zeros_like(xs[:, :1], dtype=torch.long), (xs[:, 1:] != xs[:, :-1]).long()], 1).cumsum(1)
    run_sum = torch.zeros_like(per_rank).scatter_add_(1, run, per_rank)
    run_len = torch.zeros_like(per_rank).scatter_add_(1, run, torch.ones_like(per_rank))
    values = (run_sum.gather(1, run) / run_len.gather(1, run)).float()
    out = torch.empty_like(fc).scatter_(1, order, values)
    return out.reshape(content.shape).to(content.dtype)


TRANSFORMS = {"wct": wct, "adain": adain, "efdm": efdm}
PREPARE = {"wct": wct_style, "adain": adain_style}  # what a transform keeps of a painting (efdm: the features themselves)
SINGLE_LEVEL = ("adain", "efdm")  # transforms at relu4_1 only, through AdaIN's decoder


def check_weights(n: int, weights: Sequence[float] | None) -> list[float]:
    """Blend weights for ``n`` paintings, normalised to sum to 1 (default: equal)."""
    if weights is None:
        return [1.0 / n] * n
    w = [float(x) for x in weights]
    if len(w) != n:
        raise ValueError(f"{len(w)} weights for {n} style images; give one weight per style")
    if any(not x >= 0 for x in w) or sum(w) <= 0:  # `not >=` also refuses NaN
        raise ValueError(f"style weights must be >= 0 and not all 0, got {w}")
    total = sum(w)
    return [x / total for x in w]


def transform_features(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor | WctStyle | AdainStyle],
    weights: Sequence[float] | None = None,
    alpha: float = 1.0,
    transform: str = "wct",
) -> torch.Tensor:
    """``transform`` of ``content`` towards each of ``styles``, blended by ``weights`` (Li et al. §4), then
    with ``content`` itself by ``alpha`` (1 = all style, 0 = the content unchanged)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform={transform!r} is not one of {', '.join(TRANSFORMS)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    w = check_weights(len(styles), weights)
    if alpha == 0.0:
        return content.clone()
    fn = TRANSFORMS[transform]
    used = [(wi, s) for wi, s in zip(w, styles) if wi > 0]
    if len(used) == 1:  # one painting (weight 1 once normalised): no blend, no copy of the features
        mixed = fn(content, used[0][1])
    else:
        mixed = sum(wi * fn(content, s) for wi, s in used)
    return mixed if alpha == 1.0 else torch.lerp(content, mixed, alpha)
