"""Stylise images with a trained network: ``Stylizer`` loads once and stylises PIL images or tensors.

    from stylenet import Stylizer
    stylizer = Stylizer.from_checkpoint("checkpoints/wave/last.ckpt")          # device="auto"
    out = stylizer(Image.open("photo.jpg"), strength=0.8, preserve_color=True)  # PIL in, PIL out
    big = stylizer(Image.open("photo.jpg"), stroke_scale=2)                     # strokes twice as big (default: auto)
    y = stylizer(x)                                                             # B×3×H×W in [0, 1] in and out
    multi = Stylizer.from_checkpoint("checkpoints/five/last.ckpt", style="udnie")  # a multi-style network
    multi.set_style({"wave": 0.7, "udnie": 0.3})                                 # a blend of its styles
    shipped = Stylizer.from_pretrained("five-paintings", style="starry_night")  # no training (stylenet.zoo)

Whatever the input size, the output has the input's size (the network's multiple-of-4 padding is
cropped back; an alpha plane is carried through unchanged). Images over :data:`AUTO_TILE_PIXELS` are
stylised in tiles with shared instance-norm statistics (:mod:`stylenet.inference.tiling`), so an 8000-pixel scan
fits in a laptop's memory. The network runs in its faster, equivalent :class:`InferenceNet` form under
``torch.inference_mode``; on a GPU in half precision by default; on the CPU through onnxruntime when
it is installed (faster there; ``backend="torch"`` to opt out). ``stroke_scale`` paints a smaller working
image and brings it back to full size along the photo's edges (:mod:`stylenet.inference.stroke_scale`).
"""

from __future__ import annotations

import copy
import os
from collections import defaultdict
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from stylenet.data.images import resize_long_side, resize_tensor, tensor_to_pil, to_rgb
from stylenet.errors import StylenetError
from stylenet.inference.backends import OnnxBackend, TorchBackend, resolve_backend
from stylenet.inference.guided import guided_upsample
from stylenet.inference.mix import StyleChoice, describe, mix_vector
from stylenet.inference.stroke_scale import (
    DEFAULT_STROKE_SCALE,
    StrokeScale,
    check_stroke_scale,
    stroke_side,
    training_side,
    working_size,
)
from stylenet.inference.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling, stylize_tiled
from stylenet.networks.checkpoint import load_network
from stylenet.networks.transformer import TransformerNet
from stylenet.perceptual.color import blend
from stylenet.perceptual.color import check_strength as _check_strength
from stylenet.perceptual.color import preserve_color as _preserve_color
from stylenet.runtime import resolve_device
from stylenet.zoo import resolve

AUTO_TILE_PIXELS = 2048 * 2048  # above this, tile="auto" tiles (about 4 GB of activations untiled on CPU)


class InferenceError(StylenetError, ValueError):
    """A user-fixable problem with an inference request (device, option values)."""


def check_strength(strength: float) -> float:
    """:func:`stylenet.perceptual.color.check_strength`, refused as an :class:`InferenceError`."""
    return _check_strength(strength, InferenceError)


class Stylizer:
    """A loaded network, ready to stylise. Build with :meth:`from_checkpoint` or from a TransformerNet.

    ``device``: auto|cpu|cuda|cuda:N|mps. ``half``: float16 weights and activations (default: on CUDA).
    ``backend``: ``onnxruntime`` (CPU only; measured ~1.4× faster than torch there, see
    docs/inference.md), ``onnxruntime-int8`` (the same, quantised to int8: 1.1-1.4× faster again, a visible
    but small change; docs/performance.md), ``torch``, or ``auto`` (onnxruntime on the CPU when installed, else torch).
    Tiles run on the same backend, with the instance-norm statistics frozen (graph inputs on onnxruntime).
    ``threads``: CPU threads for torch and onnxruntime (default: one per core).
    ``style``: for a multi-style network, the style to paint (a name) or a blend (``{name: weight}``);
    :meth:`set_style` changes it. The caller's network is copied, never moved or modified.
    """

    def __init__(
        self,
        net: TransformerNet,
        meta: dict | None = None,
        *,
        device: str | torch.device = "auto",
        half: bool | None = None,
        backend: str = "auto",
        threads: int | None = None,
        style: StyleChoice = None,
    ):
        self.device = resolve_device(device)
        self.half = (self.device.type == "cuda") if half is None else bool(half)
        if self.half and self.device.type == "cpu":
            raise InferenceError("half precision needs a GPU (CPU float16 convolutions are slower, not faster); drop --half")
        backend = resolve_backend(backend, self.device, threads, InferenceError)
        if threads is not None:
            torch.set_num_threads(threads)
        self.meta = dict(meta or {})
        self.config = dict(net.config)
        self.dtype = torch.float16 if self.half else torch.float32
        source = copy.deepcopy(net).float().cpu().eval()
        self.runner = (OnnxBackend(source, threads or torch.get_num_threads(), int8=backend == "onnxruntime-int8")
                       if backend.startswith("onnxruntime") else TorchBackend(source, self.device, self.dtype))
        self.net: nn.Module = self.runner.net
        self.backend = backend
        self.tiled_images = 0  # how many images went through the tiled path
        self.style: StyleChoice = None
        if style is not None or not self.styles:
            self.set_style(style)

    @property
    def styles(self) -> list[str]:
        """The styles of a multi-style network, in order; [] for a one-style network."""
        return [s["name"] for s in self.meta.get("styles") or []]

    def set_style(self, style: StyleChoice) -> None:
        """Paint ``style`` (a name of :attr:`styles`) or a blend (``{name: weight}``, normalised to sum 1)
        from now on; a one-style network takes None. One :class:`MixError` line for anything else."""
        self.runner.set_mix(mix_vector(style, self.styles))
        self.style = style

    @property
    def style_label(self) -> str:
        """The style being painted: the network's one style, the chosen one, or the blend."""
        return describe(self.style) if self.styles else (self.style_name or "")

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, **kwargs) -> "Stylizer":
        """Load a Lightning checkpoint from train.py or a light weights file (``torch.load(weights_only=True)``)."""
        net, meta = load_network(path)
        return cls(net, meta, **kwargs)

    @classmethod
    def from_pretrained(cls, name_or_folder: str | os.PathLike, **kwargs) -> "Stylizer":
        """A shipped network by name (``"five-paintings"``, :mod:`stylenet.zoo`) or a pretrained folder
        (save_pretrained's: safetensors); ``kwargs`` as the constructor's (``style=``, ``device=``, ...)."""
        return cls.from_checkpoint(resolve(name_or_folder), **kwargs)

    @property
    def style_name(self) -> str | None:
        return (self.meta.get("style") or {}).get("name")

    def working_size(self, hw: tuple[int, int], stroke_scale: StrokeScale = DEFAULT_STROKE_SCALE) -> tuple[int, int]:
        """(H, W) the network paints a photo of ``hw`` at with ``stroke_scale`` (``hw`` itself: as it is);
        ``"auto"`` reads the training size from the checkpoint. One :class:`StrokeScaleError` line if unusable."""
        return working_size(hw, stroke_scale, training_side(self.meta), stroke_side(self.meta, self.style))

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Stylizer(style={self.style_label!r}, TransformerNet({c['base_channels']}, {c['num_residual_blocks']}), "
            f"device={self.device}, dtype={str(self.dtype).replace('torch.', '')}, backend={self.backend})"
        )

    # ---- the network on one batch -----------------------------------------------------------------
    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, torch.float32, non_blocking=True)

    @staticmethod
    def _finish(y: torch.Tensor, photo: torch.Tensor, strength: float, preserve_color: bool) -> torch.Tensor:
        """Network output → final pixels: clamp, keep the photo's colours, blend with the photo."""
        y = y.to(photo.device).clamp(0, 1)
        if preserve_color:
            y = _preserve_color(photo, y)
        return blend(y, photo, strength)

    def _tile_size(self, h: int, w: int, tile: int | str | None) -> int | None:
        if tile in (None, 0, "0", "off", "none"):
            return None
        if tile == "auto":
            return DEFAULT_TILE if h * w > AUTO_TILE_PIXELS else None
        tile = int(tile)
        check_tiling(tile)
        return tile if max(h, w) > tile else None

    # ---- public API -------------------------------------------------------------------------------
    def stylize_tensor(
        self,
        x: torch.Tensor,
        *,
        strength: float = 1.0,
        preserve_color: bool = False,
        stroke_scale: StrokeScale = DEFAULT_STROKE_SCALE,
        tile: int | str | None = "auto",
        overlap: int | None = None,
        stats_size: int | None = None,
    ) -> torch.Tensor:
        """Stylise ``x`` (3×H×W or B×3×H×W, float in [0, 1], any device; uint8 0-255 accepted).

        Returns float32 of the same shape on ``x``'s device, in [0, 1]. ``stroke_scale``: strokes S times
        larger than the network paints at full size (a number >= 0.25, or ``"auto"``: the training scale;
        :mod:`stylenet.inference.stroke_scale`); 1 (the default) runs the network on ``x`` itself. ``tile``:
        ``"auto"`` (tile images over :data:`AUTO_TILE_PIXELS`), a tile size in pixels, or None/0 for never
        (applied to the working image); ``overlap``: pixels shared by neighbouring tiles (default 128, less
        for small tiles); ``stats_size``: long side of the downscaled image the shared instance-norm
        statistics come from (default: the tile size). ``x`` is not modified.
        """
        strength = check_strength(strength)
        stroke_scale = check_stroke_scale(stroke_scale)
        if self.styles and self.style is None:
            mix_vector(None, self.styles)  # raises: which styles there are and how to choose
        if x.dim() not in (3, 4) or x.shape[-3] not in (1, 3):
            raise InferenceError(f"expected an RGB image tensor 3×H×W or B×3×H×W, got shape {tuple(x.shape)}")
        batch = x if x.dim() == 4 else x.unsqueeze(0)
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        home = x.device
        h, w = batch.shape[-2:]
        work = self.working_size((h, w), stroke_scale)
        tile_size = self._tile_size(*work, tile)
        if tile_size is not None and overlap is None:
            overlap = min(DEFAULT_OVERLAP, tile_size // 2 - 1)
        if tile_size is not None:
            check_tiling(tile_size, overlap)
        if strength == 0.0:  # the photo itself; no need to run the network
            photo = batch.float() / 255.0 if batch.dtype == torch.uint8 else batch.float().clone()
            return photo if x.dim() == 4 else photo[0]
        if work != (h, w):
            y = self._stylize_at(batch, work, tile_size, overlap, stats_size, strength, preserve_color)
            return y if x.dim() == 4 else y[0]
        outs = []
        if tile_size is None:
            photo = self._to_device(batch)
            if batch.dtype == torch.uint8:
                photo = photo / 255.0
            outs.append(self._finish(self.runner.run(photo), photo, strength, preserve_color).to(home))
        else:
            for i in range(batch.shape[0]):
                outs.append(self._stylize_tiled(batch[i:i + 1].cpu(), tile_size, overlap, stats_size, strength, preserve_color).to(home))
        y = torch.cat(outs) if len(outs) > 1 else outs[0]
        return y if x.dim() == 4 else y[0]

    def _stylize_at(self, batch, work, tile_size, overlap, stats_size, strength, preserve_color) -> torch.Tensor:
        """Paint the photos at the working size ``work`` (a stroke scale) and bring the result back to their
        size: guided upsampling along the full-size photo's edges when the working image is smaller, an
        antialiased resize when it is larger. Colour and strength are applied at full size, band by band."""
        small = resize_tensor(batch, work)  # a uint8 photo stays uint8: no full-size float copy
        small = self._to_device(small) / 255.0 if small.dtype == torch.uint8 else self._to_device(small)
        if tile_size is None:
            painted = self.runner.run(small).clamp(0, 1)
        else:
            painted = torch.cat([self._stylize_tiled(small[i:i + 1].cpu(), tile_size, overlap, stats_size, 1.0, False)
                                 for i in range(small.shape[0])])
        painted = painted.to(self.device)

        def finish(y: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
            return self._finish(y, photo, strength, preserve_color)

        if max(work) > max(batch.shape[-2:]):  # a stroke scale under 1: the photo was enlarged
            photo = self._to_device(batch)
            photo = photo / 255.0 if batch.dtype == torch.uint8 else photo
            return finish(resize_tensor(painted, tuple(batch.shape[-2:])), photo).to(batch.device)
        return guided_upsample(small, painted, batch, finish=finish)

    def _stylize_tiled(self, image, tile, overlap, stats_size, strength, preserve_color) -> torch.Tensor:
        self.tiled_images += 1
        return stylize_tiled(
            run=self.runner.run_eager,  # the statistics pass: eager, its hooks record them
            net=self.net,
            image=image,
            tile=tile,
            overlap=overlap,
            stats_size=stats_size,
            to_input=self._to_device,
            finish=lambda y, photo: self._finish(y, photo, strength, preserve_color),
            run_tile=self.runner.run_frozen,
        )

    def stylize(
        self,
        image: Image.Image,
        *,
        size: int | None = None,
        strength: float = 1.0,
        preserve_color: bool = False,
        stroke_scale: StrokeScale = DEFAULT_STROKE_SCALE,
        tile: int | str | None = "auto",
        overlap: int | None = None,
        stats_size: int | None = None,
    ) -> Image.Image:
        """Stylise a PIL image of any mode (EXIF orientation honoured); ``size`` sets the long side.

        Returns RGB, or RGBA with the input's alpha plane (resized with the image if ``size`` is given).
        ``stroke_scale`` applies to the image after ``size``; the other options are :meth:`stylize_tensor`'s.
        """
        rgb, alpha = to_rgb(image)
        return self.stylize_many(
            [(rgb, alpha)], size=size, strength=strength, preserve_color=preserve_color, stroke_scale=stroke_scale, tile=tile,
            overlap=overlap, stats_size=stats_size,
        )[0]

    def stylize_many(
        self,
        images: Sequence[Image.Image | tuple[Image.Image, Image.Image | None]],
        *,
        size: int | None = None,
        strength: float = 1.0,
        preserve_color: bool = False,
        stroke_scale: StrokeScale = DEFAULT_STROKE_SCALE,
        tile: int | str | None = "auto",
        overlap: int | None = None,
        stats_size: int | None = None,
        batch_size: int = 1,
    ) -> list[Image.Image]:
        """Stylise several images, running same-size ones ``batch_size`` at a time. Order is kept.

        Items are PIL images or ``(rgb, alpha)`` pairs as :func:`stylenet.data.images.open_image` returns them.
        Batching changes nothing in the result (instance norm is per image); it only fills a GPU better.
        """
        strength = check_strength(strength)
        stroke_scale = check_stroke_scale(stroke_scale)
        if batch_size < 1:
            raise InferenceError(f"batch size must be at least 1, got {batch_size}")
        prepared = []
        for item in images:
            rgb, alpha = item if isinstance(item, tuple) else to_rgb(item)
            if size is not None:
                rgb = resize_long_side(rgb, size)
                if alpha is not None:
                    alpha = alpha.resize(rgb.size, Image.Resampling.LANCZOS)
            prepared.append((rgb, alpha))
        results: list[Image.Image | None] = [None] * len(prepared)
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        kw = dict(strength=strength, preserve_color=preserve_color, stroke_scale=stroke_scale, tile=tile, overlap=overlap,
                  stats_size=stats_size)
        works = [self.working_size((rgb.height, rgb.width), stroke_scale) for rgb, _ in prepared]  # refused before any work
        for i, ((rgb, alpha), work) in enumerate(zip(prepared, works)):
            if self._tile_size(*work, tile) is not None:
                results[i] = self._to_pil(self.stylize_tensor(_u8(rgb), **kw), alpha)
            else:
                groups[(rgb.height, rgb.width)].append(i)
        for idx in groups.values():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start:start + batch_size]
                x = torch.stack([_u8(prepared[i][0]) for i in chunk])
                y = self.stylize_tensor(x, **kw)
                for j, i in enumerate(chunk):
                    results[i] = self._to_pil(y[j], prepared[i][1])
        return results  # type: ignore[return-value]

    @staticmethod
    def _to_pil(y: torch.Tensor, alpha: Image.Image | None) -> Image.Image:
        out = tensor_to_pil(y)
        if alpha is not None:
            out.putalpha(alpha)
        return out

    def __call__(self, image, **kwargs):
        """PIL image in → PIL image out; tensor in → tensor out (see :meth:`stylize`, :meth:`stylize_tensor`)."""
        if isinstance(image, torch.Tensor):
            return self.stylize_tensor(image, **kwargs)
        return self.stylize(image, **kwargs)


def _u8(img: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL → uint8 3×H×W tensor (a quarter of float32's memory; converted per tile/batch)."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
