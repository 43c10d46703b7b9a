"""Image I/O and the one pixel convention of stylenet.

Every tensor image in stylenet is float, B×C×H×W (or C×H×W for one image), RGB, values in [0, 1].
Normalisation for VGG happens inside :class:`stylenet.perceptual.vgg.VGGEncoder`, nowhere else.

``open_image`` turns any file Pillow can read (every mode: L, LA, P, RGBA, CMYK, I;16, I, F, ...) into RGB
(plus an optional alpha plane), honouring EXIF orientation, and refuses decompression bombs, files too small
for the size they declare and non-regular files (a FIFO named x.jpg) with a clear error instead of
exhausting memory or blocking.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageOps

from stylenet.errors import StylenetError
from stylenet.files import atomic_path, not_a_regular_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")

# Pillow warns at 89 Mpx and raises at twice that (its decompression-bomb guard). We keep its hard
# limit (~179 Mpx: a 12000×14000 scan still loads, a zip bomb does not) and turn it into one clear line.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
# A header can declare any size and Pillow zero-fills what the data does not cover, so 181 bytes can pass for
# a black 13000x13000 image. Deflate compresses at most ~1032:1, so even a flat-colour 8-bit PNG holds about
# 1000 pixels per byte, and photos hold 2-50; above 4 Mpx we refuse more than that. Small images (icons,
# masks) are never refused.
MAX_PIXELS_PER_BYTE = 1000
MIN_PIXELS_CHECKED = 4_000_000


class ImageError(StylenetError, ValueError):
    """A file that cannot be used as an image; the message names the file and the reason."""


def is_image_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def to_rgb(img: Image.Image, name: str = "image") -> tuple[Image.Image, Image.Image | None]:
    """Convert any Pillow mode to 8-bit RGB, returning the alpha plane separately (or None).

    16/32-bit integer and float grey is scaled from its bit depth to 8 bit, not clipped at 255: I;16 from
    65535; I and F from 255 when every value fits in 8 bits, else from 65535 when they fit in 16, else from
    2**n - 1 for the n bits the largest value needs (a 32-bit or a 20-bit scan spans black to white); F in
    [0, 1] from 1. NaN and infinite pixels are black; an image with no finite pixel raises :class:`ImageError`
    naming ``name``.
    """
    img = ImageOps.exif_transpose(img)
    alpha = None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        alpha = img.getchannel("A")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        finite = np.isfinite(arr)
        if not finite.any():
            raise ImageError(f"{name}: no finite pixel values (every pixel is NaN or infinite); re-export it")
        arr = np.where(finite, arr, 0.0)
        top = arr.max()
        if img.mode.startswith("I;16"):
            hi = 65535.0
        elif img.mode == "F" and top <= 1.0:
            hi = 1.0  # float images are usually [0, 1]
        else:
            hi = 255.0 if top <= 255 else 65535.0 if top <= 65535 else 2.0 ** int(top).bit_length() - 1
        img = Image.fromarray(np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, L, P, 1, RGBA (alpha already kept) all land here
    return img, alpha


def open_image(path, with_alpha: bool = False):
    """Read ``path`` fully into RGB. Raises :class:`ImageError` (one line, names the file) on failure.

    ``path`` may also be a binary file object (e.g. ``io.BytesIO`` of a dataset row); set its ``name``
    attribute to have errors name the source.
    """
    if hasattr(path, "read"):
        path = _NamedStream(path)
        start = path.tell()
        size = path.seek(0, os.SEEK_END) - start
        path.seek(start)
    else:
        path = Path(path)
        why = not_a_regular_file(path)
        if why:
            raise ImageError(f"{path}: {why}")
        size = path.stat().st_size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                pixels = im.width * im.height
                if pixels > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: {im.width}x{im.height} is over the {MAX_PIXELS:,}-pixel limit "
                        "(decompression-bomb guard); downscale it first"
                    )
                if pixels > max(MIN_PIXELS_CHECKED, MAX_PIXELS_PER_BYTE * size):
                    raise ImageError(
                        f"{path}: declares {im.width}x{im.height} ({pixels / 1e6:.0f} Mpx) in only {size:,} bytes, "
                        f"over {MAX_PIXELS_PER_BYTE} pixels per byte: truncated or crafted, or a single flat colour; "
                        "re-export it"
                    )
                im.load()  # decode now so truncated files fail here, not later
                rgb, alpha = to_rgb(im, str(path))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: over the {MAX_PIXELS:,}-pixel limit (decompression-bomb guard); downscale it first") from None
    except (OSError, ValueError, SyntaxError) as e:
        if "truncated" in str(e):
            raise ImageError(f"{path}: truncated (the file ends before its image data does); copy or export it again") from None
        raise ImageError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None
    return (rgb, alpha) if with_alpha else rgb


class _NamedStream:
    """A file object that prints as its ``name`` in error messages (Pillow only needs read/seek/tell)."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, attr):
        return getattr(self._stream, attr)

    def __str__(self) -> str:
        return str(getattr(self._stream, "name", "<image bytes>"))

    __repr__ = __str__


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """8-bit PIL image → float C×H×W in [0, 1] (RGB, or one channel for L)."""
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """Float C×H×W (or 1×C×H×W) in [0, 1] → 8-bit PIL image. Values outside [0, 1] are clipped."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"tensor_to_pil takes one image, got a batch of {x.shape[0]}")
        x = x[0]
    arr = x.detach().float().clamp(0, 1).mul_(255).round_().byte().permute(1, 2, 0).cpu().numpy()  # one float copy, not three
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def load_image(path: str | os.PathLike, size: int | None = None) -> torch.Tensor:
    """Load ``path`` as a 1×3×H×W tensor in [0, 1]; ``size`` resizes the long side (aspect kept)."""
    img = open_image(path)
    if size is not None:
        img = resize_long_side(img, size)
    return pil_to_tensor(img).unsqueeze(0)


def long_side_hw(hw: tuple[int, int], size: int) -> tuple[int, int]:
    """(H, W) scaled so the long side is ``size``, aspect kept, no side under 1: the one rule every resize
    to a long side follows (PIL images, tensors, the teacher's coarse scales)."""
    h, w = hw
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_long_side(img: Image.Image, size: int) -> Image.Image:
    """A PIL image with its long side at ``size`` (Lanczos)."""
    h, w = long_side_hw((img.height, img.width), size)
    return img if (w, h) == img.size else img.resize((w, h), Image.Resampling.LANCZOS)


def resize_tensor(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """A B×C×H×W float tensor at ``hw`` (bilinear, antialiased when shrinking); unchanged if already there.
    uint8 (0–255) stays uint8 and is resized on the CPU (PyTorch's uint8 kernel is CPU-only): a big photo
    is never copied to float at full size."""
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    x = x.cpu() if x.dtype == torch.uint8 else x.float()
    return F.interpolate(x, size=tuple(hw), mode="bilinear", align_corners=False, antialias=True)


def resize_tensor_long_side(x: torch.Tensor, size: int) -> torch.Tensor:
    """A B×C×H×W float tensor with its long side at ``size``."""
    return resize_tensor(x, long_side_hw(tuple(x.shape[-2:]), size))


def side_by_side(panels: Sequence[torch.Tensor], labels: Sequence[str], height: int | None = None):
    """Panels (1×3×H×W in [0, 1]) resized to one height, side by side, each captioned below."""
    imgs = [tensor_to_pil(p.detach().cpu()) for p in panels]
    h = height or imgs[0].height
    imgs = [im.resize((max(1, round(im.width * h / im.height)), h), Image.Resampling.LANCZOS) for im in imgs]
    caption, gap = 16, 4
    canvas = Image.new("RGB", (sum(im.width for im in imgs) + gap * (len(imgs) - 1), h + caption), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for im, label in zip(imgs, labels):
        canvas.paste(im, (x, 0))
        draw.text((x + 2, h + 2), label, fill="black")
        x += im.width + gap
    return canvas


def save_image(x: torch.Tensor | Image.Image, path: str | os.PathLike, quality: int = 95) -> None:
    """Write a tensor in [0, 1] or a PIL image; the format follows the extension (png/jpg/webp/...)."""
    img = tensor_to_pil(x) if isinstance(x, torch.Tensor) else x
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    if ext in (".jpg", ".jpeg") and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")  # JPEG has no alpha
    kwargs = {"quality": quality} if ext in (".jpg", ".jpeg", ".webp") else {}
    img.save(path, **kwargs)


def atomic_save_image(x: torch.Tensor | Image.Image, path: str | os.PathLike, quality: int = 95) -> Path:
    """:func:`save_image`, written atomically: a killed run never leaves half an image under the final name."""
    with atomic_path(path) as tmp:
        save_image(x, tmp, quality=quality)
    return Path(path)
