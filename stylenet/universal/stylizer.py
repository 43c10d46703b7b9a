"""UniversalStylizer: any painting onto any photo with trained decoders (Li et al. 2017; Huang & Belongie 2017).

    from stylenet.universal.stylizer import UniversalStylizer
    u = UniversalStylizer.from_checkpoint("checkpoints/universal/last.ckpt")
    out = u.stylize(Image.open("photo.jpg"), ["wave.jpg", "udnie.jpg"], weights=[0.7, 0.3], alpha=0.8)

``transform="wct"``: multi-level coarse-to-fine WCT (Li et al. §3.3, Fig. 3): for each level the
checkpoint holds, from relu5_1 down to relu1_1, encode the current image, transform its features towards
the paintings', decode; the next level starts from that image. ``transform="adain"``: one AdaIN at relu4_1
decoded by the level-4 decoder (Huang & Belongie 2017); ``transform="efdm"``: exact distribution matching
there instead (Zhang et al. 2022), through the same decoder.

Sizes: the photo is padded (reflection, :func:`~stylenet.networks.transformer.pad_to_multiple`) to a
multiple of what the deepest level needs and cropped back, so any size comes out at its own size. A
photo too small for a level (its features would be under 2 px: side < 2^k) skips that level and uses
the finer ones (logged once); AdaIN, which has only relu4_1, refuses a photo under 16 px in one line.
Style images go through :mod:`stylenet.data.images` (16-bit, grey, alpha, EXIF, 1×1 all become RGB);
one too thin for a level is tiled (its statistics are what matters, not its layout).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence

import torch
from PIL import Image

from stylenet.data.images import load_image, pil_to_tensor, resize_long_side, resize_tensor_long_side, tensor_to_pil, to_rgb
from stylenet.errors import StylenetError
from stylenet.networks.transformer import pad_to_multiple
from stylenet.perceptual.color import DEFAULT_PALETTE, PALETTES, blend, check_strength, color_stats, match_colors
from stylenet.perceptual.color import preserve_color as _preserve_color
from stylenet.perceptual.vgg import ImageTooSmallError, VGGEncoder
from stylenet.runtime import resolve_device
from stylenet.universal.checkpoint import UniversalMeta, read_universal, require_levels
from stylenet.universal.decoder import Decoder, level_layer, min_side, size_multiple
from stylenet.universal.runner import Runner, TorchRunner
from stylenet.universal.style_set import StyleSet
from stylenet.universal.transforms import SINGLE_LEVEL, TRANSFORMS, check_weights, transform_features

ADAIN_LEVEL = 4  # Huang & Belongie 2017: relu4_1


def default_transform(levels) -> str:
    """AdaIN where the decoders include relu4_1's, else WCT. On the CPU recipes' decoders AdaIN keeps the photo
    best and closes more of the style gap than WCT at 480 px, where WCT comes last (docs/universal.md); WCT's
    error compounds over its four decoders."""
    return "adain" if ADAIN_LEVEL in tuple(levels) else "wct"
POSITIONS_PER_CHANNEL = 4  # WCT warns below this many photo positions per channel at a level (_warn_few_positions)
MAX_STYLE_SIDE = 1024  # a larger painting is downscaled: its statistics need no more, VGG time grows with area

log = logging.getLogger(__name__)


class UniversalError(StylenetError, ValueError):
    """A user-fixable problem with a universal stylisation request."""


class UniversalStylizer:
    """Decoders + the frozen VGG encoder they invert. ``encoder_weights`` replaces the file's (the VGG
    weights moved, or offline); the decoders only make sense on the weights they were trained on."""

    def __init__(self, decoders: dict[int, Decoder], meta: UniversalMeta, *, device: str | torch.device = "auto",
                 encoder_weights: str | None = None, source: str = "checkpoint"):
        self.device = resolve_device(device)
        self.meta, self.source = meta, source
        self.levels = tuple(sorted(decoders))
        self.decoders = {k: d.to(self.device).eval() for k, d in decoders.items()}
        weights = encoder_weights or meta.encoder["weights"]
        if weights == "random":  # a test file, or a crafted one: say so rather than paint noise with exit 0
            log.warning("warning: %s: the VGG encoder has random weights (encoder.weights=random, meant for tests): its outputs are "
                        "not style transfer; use decoders trained on real weights (python -m stylenet zoo list)", source)
        self.encoder = VGGEncoder([level_layer(k) for k in self.levels], weights=weights,
                                  network=meta.encoder["network"]).to(self.device)
        self.dtype = torch.float32
        self._warned: set[tuple] = set()
        # PyTorch by default; stylenet.inference.universal_onnx.use_backend puts onnxruntime here
        self.runner: Runner = TorchRunner(self)

    @property
    def backend(self) -> str:
        """What runs the encoder and decoders: ``torch``, ``onnxruntime`` or ``onnxruntime-int8``."""
        return self.runner.name

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, **kwargs) -> UniversalStylizer:
        decoders, meta = read_universal(path)
        return cls(decoders, meta, source=str(path), **kwargs)

    # ---- paintings ------------------------------------------------------------------------------
    def _style_tensor(self, style, style_size: int | None) -> tuple[str, torch.Tensor]:
        if isinstance(style, (str, os.PathLike)):
            return os.path.basename(str(style)), self._cap(load_image(style, size=style_size), style_size)
        if isinstance(style, Image.Image):
            rgb, _ = to_rgb(style, "style image")
            return "style", self._cap(pil_to_tensor(resize_long_side(rgb, style_size) if style_size else rgb).unsqueeze(0), style_size)
        if isinstance(style, torch.Tensor):
            x = _as_batch(style, "style image")
            if x.shape[0] != 1:
                raise UniversalError(f"a style image is one image, got a batch of {x.shape[0]}")
            return "style", self._cap(resize_tensor_long_side(x, style_size) if style_size else x, style_size)
        raise UniversalError(f"a style is an image path, a PIL image or a tensor, got {type(style).__name__}")

    @staticmethod
    def _cap(x: torch.Tensor, style_size: int | None) -> torch.Tensor:
        return x if style_size or max(x.shape[-2:]) <= MAX_STYLE_SIDE else resize_tensor_long_side(x, MAX_STYLE_SIDE)

    @torch.no_grad()
    def prepare_styles(self, styles, weights: Sequence[float] | None = None, style_size: int | None = None) -> StyleSet:
        """Load and encode the paintings (paths, PIL images or tensors) at every level, once."""
        if isinstance(styles, (str, os.PathLike, Image.Image, torch.Tensor)):
            styles = [styles]
        styles = list(styles)
        if not styles:
            raise UniversalError("give at least one style image")
        try:
            w = check_weights(len(styles), weights)
        except ValueError as e:
            raise UniversalError(str(e)) from None
        names, feats, colors = [], [], []
        need = min_side(max(self.levels))
        for s in styles:
            name, x = self._style_tensor(s, style_size)
            h, w_ = x.shape[-2:]
            if min(h, w_) < need:  # a thin painting: tile it; its statistics are the same
                x = x.repeat(1, 1, math.ceil(need / h), math.ceil(need / w_))
            names.append(name)
            feats.append({k: v.cpu() for k, v in self.encoder(x.to(self.device).float()).items()})
            colors.append(color_stats(x))
        return StyleSet(names, feats, w, colors)

    # ---- photos ---------------------------------------------------------------------------------
    def usable_levels(self, h: int, w: int, transform: str) -> list[int]:
        """Levels used for an H×W photo, deepest first (see the module docstring)."""
        if transform in SINGLE_LEVEL:
            require_levels(self.meta, [ADAIN_LEVEL], self.source, f"transform={transform}")
            if min(h, w) < min_side(ADAIN_LEVEL):
                name = "AdaIN" if transform == "adain" else transform.upper()
                raise ImageTooSmallError(f"a {w}x{h} photo is too small for {name} at relu4_1: it needs at least "
                                         f"{min_side(ADAIN_LEVEL)} px on each side; use a larger photo or --size, or transform=wct")
            return [ADAIN_LEVEL]
        levels = [k for k in sorted(self.levels, reverse=True) if min(h, w) >= min_side(k)]
        skipped = [k for k in self.levels if k not in levels]
        if skipped and (key := (h, w, tuple(skipped))) not in self._warned:
            self._warned.add(key)
            log.warning("a %dx%d photo is too small for level(s) %s (level k needs 2^k px): using %s only", w, h, skipped, levels)
        if not levels:  # only when the file lacks level 1 and the photo is tiny
            raise ImageTooSmallError(f"a {w}x{h} photo is too small for the decoders this file holds ({list(self.levels)}); use a larger photo or --size")
        self._warn_few_positions(h, w, levels)
        return levels

    def _warn_few_positions(self, h: int, w: int, levels: list[int]) -> None:
        """WCT whitens with the photo's own covariance at each level: C×C estimated from its H·W/4^(k-1)
        positions. With fewer positions than channels it is singular and whitening makes every position
        orthogonal to every other, so the photo's layout is lost; it comes back gradually as positions grow.
        Measured with the CPU recipe's decoders (the wave, three 3:2 photos, docs/universal.md): relu4_1 with 176
        and 384 positions (128 and 192 px) lost the photo, 704 (256 px) kept a trace, 1,536 (384 px) kept it
        roughly, 2,752 (512 px) clearly: hence the warning below POSITIONS_PER_CHANNEL × C."""
        counts = ((k, math.ceil(h / size_multiple(k)) * math.ceil(w / size_multiple(k)), self.decoders[k].in_channels) for k in levels)
        short = next(((k, n, c) for k, n, c in counts if n < POSITIONS_PER_CHANNEL * c), None)  # levels: deepest first
        if short is None or (key := (h, w, "positions")) in self._warned:
            return
        self._warned.add(key)
        k, positions, channels = short
        # the photo scaled so that its unpadded area gives enough positions (padding only adds to them)
        need = math.ceil(max(h, w) * math.sqrt(POSITIONS_PER_CHANNEL * channels * size_multiple(k) ** 2 / (h * w)))
        log.warning("a %dx%d photo gives relu%d_1 only %d positions for its %d channels: WCT whitening needs more "
                    "(about %d) and loses the photo's layout; stylise it at --size %d or more, or use --transform adain",
                    w, h, k, positions, channels, POSITIONS_PER_CHANNEL * channels, need)

    @torch.no_grad()
    def stylize_tensor(self, x: torch.Tensor, styles, *, weights=None, alpha: float = 1.0, transform: str = "wct",
                       preserve_color: bool = False, style_size: int | None = None, strength: float = 1.0,
                       palette: str | bool | None = None, runner: Runner | None = None) -> torch.Tensor:
        """Stylise 3×H×W or B×3×H×W in [0, 1] (uint8 accepted); the same shape, float32, on ``x``'s device.
        ``styles``: a :class:`StyleSet` or what :meth:`prepare_styles` takes. ``x`` is not modified.
        ``strength`` blends the result with the photo in pixels (``alpha`` mixes in feature space).
        ``palette`` recolours to the paintings' RGB mean and covariance (:func:`~stylenet.perceptual.color.match_colors`),
        so that their palette replaces the photo's: ``before`` the photo, ``after`` the decoded image, or ``both``.
        ``runner``: what runs the encoder and decoders for this call (default :attr:`runner`)."""
        strength = check_strength(strength, UniversalError)
        palette = check_palette(palette, preserve_color)
        if transform not in TRANSFORMS:
            raise UniversalError(f"transform={transform!r} is not one of {', '.join(TRANSFORMS)}")
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise UniversalError(f"alpha must be between 0 and 1 (0 = the photo's features, 1 = all style), got {alpha:g}")
        batch = _as_batch(x, "photo")
        if batch.dtype == torch.uint8:
            batch = batch.float() / 255.0
        style_set = styles if isinstance(styles, StyleSet) else self.prepare_styles(styles, weights, style_size)
        h, w = batch.shape[-2:]
        levels = self.usable_levels(h, w, transform)
        deepest = max(levels)
        colors = style_set.palette() if palette else None
        encode, decode = (runner or self.runner).bind(style_set, alpha=alpha, transform=transform, palette=palette)
        outs = []
        for i in range(batch.shape[0]):
            photo = batch[i:i + 1].to(self.device, torch.float32)
            start = match_colors(photo, *colors) if palette in ("before", "both") else photo
            y = pad_to_multiple(start, size_multiple(deepest), min_side(deepest))
            for k in levels:
                layer = level_layer(k)
                fc = encode(y, layer)
                f = transform_features(fc, style_set.for_transform(layer, transform, self.device), style_set.weights, alpha, transform)
                y = decode(k, f)  # clamped to [0, 1]
            y = y[..., :h, :w]
            if palette in ("after", "both"):
                y = match_colors(y, *colors)
            if preserve_color:
                y = _preserve_color(photo, y)
            outs.append(blend(y, photo, strength).to(x.device))
        out = torch.cat(outs)
        return out if x.dim() == 4 else out[0]

    def stylize(self, photo, styles, weights: Sequence[float] | None = None, alpha: float = 1.0, transform: str = "wct",
                preserve_color: bool = False, size: int | None = None, style_size: int | None = None, strength: float = 1.0,
                palette: str | bool | None = None):
        """PIL in → PIL out (alpha plane carried through); tensor in → tensor out. ``size``: the photo's long side."""
        if isinstance(photo, torch.Tensor):
            x = photo if size is None else resize_tensor_long_side(_as_batch(photo, "photo").float(), size)
            y = self.stylize_tensor(x, styles, weights=weights, alpha=alpha, transform=transform,
                                    preserve_color=preserve_color, style_size=style_size, strength=strength, palette=palette)
            return y[0] if photo.dim() == 3 and y.dim() == 4 else y
        if not isinstance(photo, (Image.Image, tuple)):
            raise UniversalError(f"a photo is a PIL image or a tensor, got {type(photo).__name__}")
        rgb, alpha_plane = photo if isinstance(photo, tuple) else to_rgb(photo, "photo")
        if size is not None:
            rgb = resize_long_side(rgb, size)
            if alpha_plane is not None:
                alpha_plane = alpha_plane.resize(rgb.size, Image.Resampling.LANCZOS)
        y = self.stylize_tensor(pil_to_tensor(rgb), styles, weights=weights, alpha=alpha, transform=transform,
                                preserve_color=preserve_color, style_size=style_size, strength=strength, palette=palette)
        out = tensor_to_pil(y)
        if alpha_plane is not None:
            out.putalpha(alpha_plane)
        return out

    __call__ = stylize


def check_palette(palette, preserve_color: bool = False) -> str | None:
    """``palette`` as None (off) or one of :data:`PALETTES`: True is :data:`DEFAULT_PALETTE`, and ``"auto"`` is too
    unless ``preserve_color`` asks for the photo's colours (then off). One line for anything else, and for an
    explicit palette beside ``preserve_color`` (they ask for opposite colours)."""
    if palette in (None, False, "none", "off") or (palette == "auto" and preserve_color):
        return None
    mode = DEFAULT_PALETTE if palette in (True, "auto") else palette
    if mode not in PALETTES:
        raise UniversalError(f"palette={palette!r} is not one of auto, none, {', '.join(PALETTES)}")
    if preserve_color:
        raise UniversalError("palette (the painting's colours) and preserve_color (the photo's colours) exclude each other: choose one")
    return mode


def _as_batch(x: torch.Tensor, what: str) -> torch.Tensor:
    if x.dim() not in (3, 4) or x.shape[-3] not in (1, 3):
        raise UniversalError(f"expected the {what} as 3×H×W or B×3×H×W, got shape {tuple(x.shape)}")
    b = x if x.dim() == 4 else x.unsqueeze(0)
    return b.expand(-1, 3, -1, -1) if b.shape[1] == 1 else b
