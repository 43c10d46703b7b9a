"""The one perceptual loss of stylenet: used by training, by the Gatys teacher and by evaluation.

total = content_weight · content + style_weight · style + tv_weight · tv, where

* content = Σ_l MSE(φ_l(output), φ_l(content photo)) over the content layers (Johnson et al. 2016, §3.1);
* style   = Σ_l w_l · MSE(G_l(output), G_l(style)), G = F Fᵀ / (C·H·W) the Gram matrix of layer l
  (Gatys et al. 2015; normalised by C·H·W as in Johnson et al., so the weight does not depend on the
  image size);
* tv      = mean squared difference of neighbouring pixels (total-variation regulariser,
  Mahendran & Vedaldi 2015; Johnson et al. §3.3).

With ``normalize=True`` (the default config) each term is a *relative* error: the content MSE is divided
by the mean square of the photo's features, and each style layer's Gram MSE by the mean square of its
target Gram. Raw VGG layers differ by orders of magnitude (with the Caffe-converted VGG16 here, relu1_2's
Gram error is ~10⁷× relu4_3's, so the raw style loss is relu1_2 alone and a trained network outputs the
painting's flat colour); relative terms weigh every layer alike, as Gatys et al.'s 1/(4N²M²) per-layer
factor meant to, and make the weights portable between VGG weight files. ``normalize=False`` gives the
raw units of pytorch/examples' fast_neural_style (content 1e5, style 1e10 with torchvision's weights).

The terms are registered here (:mod:`stylenet.perceptual.terms`, kind ``image``) and :meth:`PerceptualLoss.forward`
computes whatever is registered, so a new image term is its function, a ``register`` and a weight in ``conf/loss``.
Every term is reported *weighted* (what is summed into ``total``), in the same units everywhere: the
training logs, the teacher and the evaluation print comparable numbers.

The style targets are computed once, under ``no_grad``, kept as buffers and broadcast over the batch
(pystiche's ``set_target_image``), so a training step never re-encodes the style image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from stylenet.perceptual import terms as registry
from stylenet.perceptual.terms import ImageTermInputs, LossTerm
from stylenet.perceptual.vgg import VGGEncoder


class _SymmetricGram(torch.autograd.Function):
    """G = F Fᵀ with the backward written for a symmetric product: dF = (dG + dGᵀ) F, one matmul,
    where autograd's bmm backward does two (one of them into a transposed C×HW buffer) and adds them."""

    @staticmethod
    def forward(ctx, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(f)
        return torch.bmm(f, f.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        return torch.bmm(grad + grad.transpose(1, 2), f)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """B×C×H×W → B×C×C, normalised by C·H·W. Computed in fp32 so autocast cannot overflow it: autocast
    would run bmm in fp16/bf16 whatever the input dtype, and an fp16 sum over H·W products overflows."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w).float()
    with torch.autocast(f.device.type, enabled=False):
        return _SymmetricGram.apply(f) / (c * h * w)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between vertically and horizontally adjacent pixels."""
    dh = x[..., 1:, :] - x[..., :-1, :]
    dw = x[..., :, 1:] - x[..., :, :-1]
    return dh.pow(2).mean() + dw.pow(2).mean()


def content_term(weight: float, inputs: ImageTermInputs) -> torch.Tensor:
    """weight × Σ over the content layers of the feature MSE to the photo (relative with ``normalize``)."""
    loss = inputs.loss
    content_loss = inputs.output.new_zeros((), dtype=torch.float32)
    for layer in loss.content_layers:
        target = inputs.content_features[layer].float()
        term = F.mse_loss(inputs.features[layer].float(), target)
        if loss.normalize:
            term = term / target.pow(2).mean().clamp_min(1e-30)
        content_loss = content_loss + term
    return weight * content_loss


def style_term(weight: float, inputs: ImageTermInputs) -> torch.Tensor:
    """weight × Σ over the style layers of the weighted Gram MSE to the target(s) (relative with ``normalize``)."""
    loss, style_index = inputs.loss, inputs.style_index
    style_loss = inputs.output.new_zeros((), dtype=torch.float32)
    for layer, w in zip(loss.style_layers, loss.style_layer_weights):
        g = gram_matrix(inputs.features[layer])
        if style_index is None:  # one style for the whole batch
            target = getattr(loss, f"target_gram_{layer}").expand_as(g)
            scale = getattr(loss, f"style_scale_{layer}")[0] * loss.style_factor[0]
            style_loss = style_loss + w * scale * F.mse_loss(g, target)
        else:  # each sample against its own style's Grams
            target = getattr(loss, f"target_gram_{layer}")[style_index]
            scale = getattr(loss, f"style_scale_{layer}")[style_index] * loss.style_factor[style_index]
            style_loss = style_loss + w * (scale * (g - target).pow(2).mean((1, 2))).mean()
    return weight * style_loss


registry.register(LossTerm("content", "content_weight", "image", content_term))
registry.register(LossTerm("style", "style_weight", "image", style_term))
registry.register(LossTerm("tv", "tv_weight", "image", lambda weight, inputs: weight * total_variation(inputs.output.float())))


class PerceptualLoss(nn.Module):
    def __init__(
        self,
        encoder: VGGEncoder,
        content_layers: Sequence[str] = ("relu2_2",),
        style_layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
        content_weight: float = 1e5,
        style_weight: float = 1e10,
        tv_weight: float = 0.0,
        style_layer_weights: Mapping[str, float] | Sequence[float] | None = None,
        single_pass: bool = False,
        normalize: bool = False,
        **term_weights: float,
    ):
        """``term_weights``: the weights of image terms registered beyond content, style and TV, by their
        ``weight_key`` (:mod:`stylenet.perceptual.terms`); a term without one is off."""
        super().__init__()
        known = {t.weight_key for t in registry.all_terms("image")}
        unknown = sorted(set(term_weights) - known)
        if unknown:
            raise TypeError(f"unexpected loss arguments {unknown}: not the weight of a registered loss term")
        missing = [layer for layer in (*content_layers, *style_layers) if layer not in encoder.layers]
        if missing:
            raise ValueError(f"the encoder does not produce {missing}; build it with those layers")
        self.encoder = encoder
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        for key, weight in term_weights.items():
            setattr(self, key, float(weight))
        if style_layer_weights is None:
            style_layer_weights = [1.0] * len(self.style_layers)
        elif isinstance(style_layer_weights, Mapping):
            style_layer_weights = [float(style_layer_weights.get(layer, 1.0)) for layer in self.style_layers]
        if len(style_layer_weights) != len(self.style_layers):
            raise ValueError(f"{len(style_layer_weights)} style layer weights for {len(self.style_layers)} style layers")
        self.style_layer_weights = [float(w) for w in style_layer_weights]
        # One encoder pass over [output; content] instead of two: fewer kernel launches on a GPU; on a
        # CPU two passes (the content one without autograd) use less memory. Switchable, same result.
        self.single_pass = single_pass
        self.normalize = bool(normalize)
        for layer in self.style_layers:
            self.register_buffer(f"target_gram_{layer}", torch.empty(0), persistent=False)
            # 1 / mean(target²) with normalize=True, else 1: set with the targets, applied to the MSE.
            self.register_buffer(f"style_scale_{layer}", torch.ones(1), persistent=False)
        self.register_buffer("style_factor", torch.ones(1), persistent=False)  # per style (set_styles)

    @staticmethod
    def layers_needed(content_layers: Sequence[str], style_layers: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*content_layers, *style_layers]))

    @property
    def has_style(self) -> bool:
        return getattr(self, f"target_gram_{self.style_layers[0]}").numel() > 0 if self.style_layers else True

    @torch.no_grad()
    def set_style(self, styles: torch.Tensor | Sequence[torch.Tensor], blend_weights: Sequence[float] | None = None) -> None:
        """Compute the target Grams from one style image (1×3×H×W) or several, blended by weight
        (Gatys et al.; jcjohnson/neural-style's ``-style_blend_weights``). Weights are normalised to sum 1."""
        if isinstance(styles, torch.Tensor):
            styles = [styles]
        if blend_weights is None:
            blend_weights = [1.0] * len(styles)
        if len(blend_weights) != len(styles) or sum(blend_weights) <= 0:
            raise ValueError(f"need one positive blend weight per style image, got {list(blend_weights)} for {len(styles)}")
        total = float(sum(blend_weights))
        device = next((b.device for b in self.buffers()), None)
        grams: dict[str, torch.Tensor] = {}
        for img, w in zip(styles, blend_weights):
            if img.dim() == 3:
                img = img.unsqueeze(0)
            feats = self.encoder(img.to(device) if device is not None else img)
            for layer in self.style_layers:
                g = gram_matrix(feats[layer]).mean(0, keepdim=True) * (w / total)
                grams[layer] = grams[layer] + g if layer in grams else g
        self._set_targets(grams)

    def _set_targets(self, grams: Mapping[str, torch.Tensor], factors: torch.Tensor | None = None) -> None:
        """Target Grams S×C×C per layer (S = 1 for one style), their normalisation (S) and per-style factors."""
        for layer, g in grams.items():
            setattr(self, f"target_gram_{layer}", g)
            scale = 1.0 / g.pow(2).mean((1, 2)).clamp_min(1e-30) if self.normalize else torch.ones(g.shape[0], device=g.device)
            setattr(self, f"style_scale_{layer}", scale)
        first = next(iter(grams.values()))
        self.style_factor = torch.ones(first.shape[0], device=first.device) if factors is None else factors.to(first.device).float()

    @property
    def num_styles(self) -> int:
        """How many styles the targets hold: 1 after :meth:`set_style`, S after :meth:`set_styles`."""
        return getattr(self, f"target_gram_{self.style_layers[0]}").shape[0] if self.style_layers and self.has_style else 1

    @torch.no_grad()
    def set_styles(self, styles: Sequence[torch.Tensor], factors: Sequence[float] | None = None) -> None:
        """Targets for several styles at once, for a multi-style network (Dumoulin et al. 2017): style ``s``
        of ``styles`` (1×3×H×W each) is row ``s``; :meth:`forward` then takes each sample's ``style_index``.
        ``factors`` scale each style's term (a style's own ``style_weight`` over the loss's)."""
        per_style: dict[str, list[torch.Tensor]] = {layer: [] for layer in self.style_layers}
        for img in styles:
            self.set_style(img)
            for layer in self.style_layers:
                per_style[layer].append(getattr(self, f"target_gram_{layer}"))
        if factors is not None and (len(factors) != len(styles) or any(not f > 0 for f in factors)):
            raise ValueError(f"need one positive factor per style, got {list(factors)} for {len(styles)} styles")
        self._set_targets({layer: torch.cat(gs, 0) for layer, gs in per_style.items()},
                          None if factors is None else torch.tensor([float(f) for f in factors]))

    def content_features(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feats = self.encoder(content, layers=self.content_layers)  # stops at the deepest content layer
        return {layer: feats[layer] for layer in self.content_layers}

    def forward(
        self,
        output: torch.Tensor,
        content: torch.Tensor | None = None,
        content_features: Mapping[str, torch.Tensor] | None = None,
        style_index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Loss terms of ``output`` against the content photo(s) and the style set by :meth:`set_style`.

        Pass ``content_features`` (from :meth:`content_features`) to reuse them across calls, as the
        teacher does for hundreds of iterations on one photo. After :meth:`set_styles`, ``style_index``
        (B integers) names each sample's style; the style term is then the mean of the samples' own.
        Returns each registered image term (``content``, ``style``, ``tv``, ...) and ``total``, each a
        weighted scalar.
        """
        if not self.has_style:
            raise RuntimeError("PerceptualLoss.set_style(...) must be called before computing the loss")
        if style_index is None and self.num_styles > 1:
            raise ValueError(f"the loss holds {self.num_styles} styles: give each sample's style_index")
        if content_features is None:
            if content is None:
                raise ValueError("give the content photo or its content_features")
            if content.shape[-2:] != output.shape[-2:]:
                raise ValueError(f"output {tuple(output.shape[-2:])} and content {tuple(content.shape[-2:])} differ in size")
            if self.single_pass:
                feats = self.encoder(torch.cat([output, content.to(output.dtype)], 0))
                n = output.shape[0]
                out_feats = {k: v[:n] for k, v in feats.items()}
                content_features = {layer: feats[layer][n:].detach() for layer in self.content_layers}
            else:
                content_features = self.content_features(content)
                out_feats = self.encoder(output)
        else:
            out_feats = self.encoder(output)

        # Every registered image term, weighted, in registration order; total sums them in that order.
        inputs = ImageTermInputs(output, out_feats, content_features, self, style_index)
        terms: dict[str, torch.Tensor] = {}
        for term in registry.all_terms("image"):
            weight = float(getattr(self, term.weight_key, 0.0))
            terms[term.name] = term.compute(weight, inputs) if weight else output.new_zeros((), dtype=torch.float32)
        total = None
        for value in terms.values():
            total = value if total is None else total + value
        terms["total"] = total
        return terms


def one_style_loss(loss: Mapping[str, Any], style: Mapping[str, Any]) -> dict[str, Any]:
    """The loss config of one style: a style may override the loss's style weight (conf/style/*.yaml). The one
    rule for training, the evaluation of a multi-style network's style and the Gatys teacher."""
    out = dict(loss)
    if style.get("style_weight") is not None:
        out["style_weight"] = float(style["style_weight"])
    return out


def build_perceptual_loss(
    weights: str | None = "IMAGENET1K_V1",
    network: str = "vgg16",
    content_layers: Sequence[str] = ("relu2_2",),
    style_layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
    **kwargs,
) -> PerceptualLoss:
    """Encoder cut at the deepest layer needed + the loss on top; the one way every path builds it."""
    encoder = VGGEncoder(PerceptualLoss.layers_needed(content_layers, style_layers), weights=weights, network=network)
    return PerceptualLoss(encoder, content_layers, style_layers, **kwargs)
