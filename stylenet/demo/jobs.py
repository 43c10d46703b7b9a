"""What the web page does, without the web: stylise a photo, a contact sheet, a video clip; and every bound.

Each job takes paths (the uploads the page saved) and returns plain values, so that tests and the page share
one code path and the page only lays them out (:mod:`stylenet.demo.page`). Every refusal is a
:class:`~stylenet.demo.catalogue.DemoError` or another StylenetError: one line, shown on the page.

The bounds are stated on the page (:func:`limits_text`): a request over one is refused before any work, so
one visitor cannot hold the two cores (or the memory) for long.
"""

from __future__ import annotations

import io
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from stylenet.data.images import MAX_PIXELS, ImageError, atomic_save_image, open_image, resize_long_side
from stylenet.demo.catalogue import Catalogue, Choice, DemoError
from stylenet.errors import first_line
from stylenet.inference.contact_sheet import contact_sheet
from stylenet.inference.stroke_scale import AUTO, StrokeScaleError, check_stroke_scale
from stylenet.inference.video import VideoError, is_video_path, stylize_video

MAX_UPLOAD_MB = 50  # any upload (Gradio refuses a bigger file at the upload itself)
MAX_PHOTO_PIXELS = 40_000_000  # a 7700×5200 photo: more than any phone camera's
MAX_SIDE = 4096  # output long side for a trained network (tiles keep memory flat above 2048 px)
MAX_PAINTING_SIDE = 2048  # output long side through universal decoders (VGG on the whole photo, never tiled)
MAX_VIDEO_SECONDS = 10  # the clip's first seconds are stylised, the rest is left out (said on the page)
MAX_VIDEO_FRAMES = 300  # and at most this many frames of them (10 s at 30 fps; a 1000 fps clip would be 10,000)
MAX_VIDEO_SIDE = 1280  # a frame's long side: 720p; bigger clips are refused before decoding
PREVIEW_SIDE = 1024  # the before/after slider's images (the download is full size)
SIZES = ("photo's size", "512", "1024", "2048", "4096")
SAVE_AS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}  # else PNG
# The page's stroke scales: auto first (the default, as infer.py's), then numbers (any other number works through the API).
STROKE_SCALES = (AUTO, "1", "1.5", "2", "3", "4", "6", "8")


def limits_text() -> str:
    """The bounds, as the page states them."""
    return (f"Limits: uploads up to {MAX_UPLOAD_MB} MB; photos up to {MAX_PHOTO_PIXELS / 1e6:.0f} megapixels; "
            f"results up to {MAX_SIDE} px on the long side ({MAX_PAINTING_SIDE} px with your own painting); "
            f"videos up to {MAX_VIDEO_SIDE} px on the long side, the first {MAX_VIDEO_SECONDS} s (at most {MAX_VIDEO_FRAMES} frames) stylised. "
            "Requests wait their turn: one runs at a time.")


@dataclass
class PhotoResult:
    before: Image.Image  # the photo, at the preview size
    after: Image.Image  # the result, at the preview size
    path: Path  # the full-size result, in the photo's format
    seconds: float
    size: tuple[int, int]  # the result's (width, height)


def _out_dir() -> Path:
    # Under the system temp folder: Gradio serves files returned from there (its default allowed paths).
    return Path(tempfile.mkdtemp(prefix="stylenet-demo-"))


def read_photo(path: str | Path | None, what: str = "photo") -> tuple[Image.Image, Image.Image | None, str | None]:
    """``(rgb, alpha, format)`` of an upload, after the pixel bound (read from the header, before decoding)."""
    if not path:
        raise DemoError(f"no {what}: drop or upload one first")
    name = Path(path).name
    fmt, size = None, (0, 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt, size = im.format, im.size
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        pass  # open_image says what is wrong, in its words
    pixels = size[0] * size[1]
    if MAX_PHOTO_PIXELS < pixels <= MAX_PIXELS:  # above MAX_PIXELS: open_image's decompression-bomb line
        raise DemoError(f"{name}: {size[0]}x{size[1]} is {pixels / 1e6:.0f} megapixels, over this page's "
                        f"{MAX_PHOTO_PIXELS / 1e6:.0f}; downscale it first")
    # Read through a stream named as the upload was, so that a message names the user's file, not the server's copy.
    try:
        stream = io.BytesIO(Path(path).read_bytes())
    except OSError as e:
        raise DemoError(f"{name}: the upload cannot be read ({type(e).__name__}); upload it again") from None
    stream.name = name
    try:
        rgb, alpha = open_image(stream, with_alpha=True)
    except ImageError as e:
        if "not a readable image" not in str(e):
            raise  # its line already says what to do
        raise DemoError(f"{first_line(e)}; upload a photo (JPEG, PNG, WebP, TIFF, BMP or GIF)") from None
    return rgb, alpha, fmt


def output_side(size: str | int | None, photo: Image.Image, cap: int) -> int | None:
    """The long side asked for (None: the photo's own), within ``cap``."""
    if size in (None, "", SIZES[0]):
        if max(photo.size) > cap:
            raise DemoError(f"the photo is {max(photo.size)} px on its long side, over this page's {cap}; pick a smaller "
                            "output size")
        return None
    try:
        side = int(size)
    except (TypeError, ValueError):
        raise DemoError(f"output size {size!r} is not a number of pixels; pick one of {', '.join(SIZES)}") from None
    if not 64 <= side <= cap:
        raise DemoError(f"output size {side} px is outside 64..{cap} for this style; pick one in that range")
    return side


def stylise_photo(catalogue: Catalogue, photo: str | Path | None, label: str, painting: str | Path | None = None, *,
                  strength: float = 1.0, keep_colours: bool = False, stroke_scale: float | str = AUTO,
                  size: str | int | None = None) -> PhotoResult:
    """One photo in the chosen style; the result is saved in the photo's format at the size asked for.
    ``stroke_scale``: auto (each style at its measured working size, as infer.py) or a number."""
    choice = catalogue.choice(label)
    rgb, alpha, fmt = read_photo(photo)
    options: dict[str, Any] = {"strength": float(strength), "preserve_color": bool(keep_colours)}
    try:
        stroke_scale = check_stroke_scale(stroke_scale, "stroke scale")
    except StrokeScaleError as e:
        raise DemoError(str(e)) from None
    t0 = time.perf_counter()
    if choice.kind == "decoders":
        if stroke_scale not in (AUTO, 1.0):
            raise DemoError("stroke scale is for trained networks; set it to auto or 1 with your own painting")
        stylizer = catalogue.paintings(choice, read_photo(painting, "painting")[0])
        side = output_side(size, rgb, MAX_PAINTING_SIDE)
    else:
        stylizer = catalogue.network(choice)
        options["stroke_scale"] = stroke_scale
        side = output_side(size, rgb, MAX_SIDE)
    out = stylizer.stylize_many([(rgb, alpha)], size=side, **options)[0]
    seconds = time.perf_counter() - t0
    suffix = SAVE_AS.get(fmt or "", ".png")
    path = atomic_save_image(out, _out_dir() / f"{Path(photo).stem}-{_slug(label)}{suffix}")
    before = rgb if side is None else resize_long_side(rgb, side)
    return PhotoResult(_preview(before), _preview(out.convert("RGB")), path, seconds, out.size)


def sheet(catalogue: Catalogue, photo: str | Path | None, label: str) -> tuple[Image.Image, Path]:
    """The photo in every style of the chosen multi-style network (its first two styles blended below)."""
    choice: Choice = catalogue.choice(label)
    if choice.kind != "network" or choice.style is None:
        raise DemoError("a contact sheet shows every style of a multi-style network: pick one of its styles first")
    rgb = read_photo(photo)[0]
    image = contact_sheet(catalogue.network(choice), rgb, size=256)  # it sets the network's style back itself
    return image, atomic_save_image(image, _out_dir() / f"{Path(photo).stem}-contact-sheet.jpg")


def stylise_clip(catalogue: Catalogue, video: str | Path | None, label: str, painting: str | Path | None = None, *,
                 strength: float = 1.0, keep_colours: bool = False) -> tuple[Path, str]:
    """The clip's first :data:`MAX_VIDEO_SECONDS` seconds (at most :data:`MAX_VIDEO_FRAMES` frames) stylised, with their audio, as H.264 MP4 (plays in
    every browser). A progress bar follows the frames (``stylize_video``'s tqdm, which Gradio tracks)."""
    if not video:
        raise DemoError("no video: drop or upload a clip first")
    name = Path(video).name
    if not is_video_path(video):
        raise DemoError(f"{name}: not a video file name (.mp4, .mov, .mkv, .webm, .avi, .gif); pick a video")
    width, height = _video_size(video)
    if max(width, height) > MAX_VIDEO_SIDE:
        raise DemoError(f"{name}: {width}x{height} is over this page's {MAX_VIDEO_SIDE} px for videos; "
                        f"resize it first (ffmpeg -i {name} -vf scale=-2:720 small.mp4)")
    choice = catalogue.choice(label)
    stylizer = (catalogue.paintings(choice, read_photo(painting, "painting")[0]) if choice.kind == "decoders"
                else catalogue.network(choice))
    dst = _out_dir() / f"{Path(video).stem}-{_slug(label)}.mp4"
    result = stylize_video(stylizer, video, dst, duration=MAX_VIDEO_SECONDS, max_frames=MAX_VIDEO_FRAMES, strength=float(strength),
                           preserve_color=bool(keep_colours))
    return dst, f"{result.frames} frames at {result.width}x{result.height} in {result.seconds:.1f} s"


def _video_size(video: str | Path) -> tuple[int, int]:
    import av

    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise DemoError(f"{Path(video).name}: has no video stream; pick a video")
            ctx = container.streams.video[0].codec_context
            return ctx.width, ctx.height
    except av.error.FFmpegError as e:
        raise VideoError(f"{Path(video).name}: not a readable video ({type(e).__name__}); export it again") from None


def _preview(image: Image.Image) -> Image.Image:
    return resize_long_side(image, PREVIEW_SIDE) if max(image.size) > PREVIEW_SIDE else image


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in label.split(" (")[0]).strip("-")[:40] or "styled"
