"""Stylise a video with a :class:`~stylenet.inference.stylizer.Stylizer`, in a stream.

Frames are decoded, stylised ``batch_size`` at a time and encoded as they come (PyAV: FFmpeg's bindings,
whose wheels carry libx264 and AAC), so memory does not grow with the film's length. The output keeps the
input's frame size, timestamps (a variable frame rate stays variable), duration and rotation tag; the audio
stream is copied packet for packet, never re-encoded. It is written through :func:`stylenet.files.atomic_path`:
a run killed at any moment leaves no half-written file, and the input is never the output.

Frames are stylised one by one, so a film shimmers (Ruder et al. 2016): small changes between frames flip
strokes. Networks trained for temporal consistency reduce it; the flicker is measured by the warping error.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from stylenet.data.images import long_side_hw
from stylenet.errors import StylenetError, first_line
from stylenet.files import atomic_path, not_a_regular_file

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".ts")
# Containers that take H.264 and whatever audio the input has; the others (webm: VP8/VP9 only; avi; gif: no
# H.264) become Matroska or MP4.
OUTPUT_SUFFIXES = {".ts": ".mp4", ".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mov", ".mkv": ".mkv", ".webm": ".mkv", ".avi": ".mkv", ".gif": ".mp4"}
CRF = 18  # x264's "visually lossless" end of the scale: the strokes are the point


class VideoError(StylenetError, ValueError):
    """A video that cannot be read or written; the message names the file and what to do."""


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def is_film(path: str | os.PathLike) -> bool:
    """A video to stylise as a film: a video file name, except a GIF of one frame, which is a still image (its
    output a PNG, not an MP4). A GIF Pillow cannot read counts as a still: its reader says what is wrong."""
    if not is_video_path(path):
        return False
    if Path(path).suffix.lower() != ".gif":
        return True
    from PIL import Image

    try:
        with Image.open(path) as im:
            return getattr(im, "n_frames", 1) > 1
    except (OSError, ValueError, SyntaxError):
        return False


def output_suffix(src: str | os.PathLike) -> str:
    return OUTPUT_SUFFIXES.get(Path(src).suffix.lower(), ".mp4")


@dataclass
class VideoResult:
    frames: int
    seconds: float  # wall time of the whole job
    width: int
    height: int
    resized: int = 0  # frames whose resolution differed from the first's, resized to it


def _open(src: Path):
    # A FIFO or a device named clip.mp4 would block the open until a writer comes, i.e. forever.
    if why := not_a_regular_file(src):
        raise VideoError(f"{src}: not a readable video ({why})")
    try:
        container = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(f"{src}: not a readable video ({first_line(e)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{src}: has no video stream")
    return container


def _even(n: int) -> int:
    return n + (n % 2)  # x264's 4:2:0 needs even sides


def _h264(out, height: int, width: int, rate) -> tuple:
    """An H.264 stream (crf :data:`CRF`, 4:2:0) for frames of ``height``×``width``, and the even size it encodes."""
    size = (_even(height), _even(width))
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
    stream.options = {"crf": str(CRF)}
    return stream, size


def _frame(rgb: np.ndarray, size: tuple[int, int]):
    """An H×W×3 uint8 RGB array as a video frame of ``size``, odd sides padded by one edge pixel."""
    if rgb.shape[:2] != size:
        rgb = np.pad(rgb, ((0, size[0] - rgb.shape[0]), (0, size[1] - rgb.shape[1]), (0, 0)), mode="edge")
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")


def to_uint8_frames(y: torch.Tensor) -> np.ndarray:
    """Stylised B×3×H×W floats in [0, 1] → B×H×W×3 uint8 RGB arrays, as video frames are written."""
    return (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def stylize_video(
    stylizer,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    start: float = 0.0,
    duration: float | None = None,
    max_frames: int | None = None,
    size: int | None = None,
    batch_size: int = 4,
    progress: bool = True,
    **stylize_kwargs,
) -> VideoResult:
    """Stylise ``src`` into ``dst`` (H.264, ``crf`` 18; the container from ``dst``'s suffix).

    ``start``/``duration`` (seconds) or ``max_frames`` stylise a piece only. ``stylize_kwargs`` go to
    :meth:`Stylizer.stylize_tensor` (strength, preserve_color, stroke_scale, tile, ...). Odd frame sides are padded by one
    edge pixel (4:2:0 needs even sides). ``size``: the frames' long side (default: as stored). Every frame is
    read at the first frame's size (after ``size``): a stream whose resolution changes midway (a concatenated
    MPEG-TS, a screen recording) is resized to it rather than stopping the run; ``VideoResult.resized`` counts
    those frames. Raises :class:`VideoError` on a file that cannot be read.
    """
    src, dst = Path(src), Path(dst)
    if start < 0 or (duration is not None and duration <= 0) or (max_frames is not None and max_frames < 1):
        raise VideoError(f"start must be >= 0, duration > 0 and max frames >= 1 (got {start}, {duration}, {max_frames})")
    t0 = time.perf_counter()
    inp = _open(src)
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"  # frame-parallel decoding
    ain = inp.streams.audio[0] if inp.streams.audio else None
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    end = None if duration is None else start + duration
    length = vin.frames / rate if vin.frames else (inp.duration / av.time_base if inp.duration else 0)  # seconds
    total = max(0, round(float(((min(end, length) if end is not None else length) - start) * rate)))  # for the bar
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total or None, unit="frame", desc=src.name, file=sys.stderr, dynamic_ncols=True)
    done, resized, even, first_hw, frame_hw, last_pts = 0, 0, None, None, None, None
    try:
        if start > 0:  # to the keyframe before start; frames before it are decoded and dropped below
            inp.seek(int(start / vin.time_base), stream=vin)
        with atomic_path(dst) as tmp:
            out = av.open(str(tmp), "w", format=_format(dst))
            try:
                vout = aout = None
                first_pts = None  # the input pts of the first frame kept: the output starts at 0
                origin = 0.0  # its time in seconds: audio is shifted by the same amount
                audio_wait: list = []  # audio packets demuxed before the first kept frame created the streams
                # Audio waits here until the video has reached its time: a piece cut by frames (max_frames) only
                # knows its end when its last frame comes, and the container interleaves audio ahead of video
                # (a 1-frame piece carried 0.33 s of sound).
                audio_pending: list = []
                horizon = float("-inf")  # the end of the last frame written, in the input's seconds
                batch: list = []

                def mux_audio_until(limit: float) -> None:
                    keep = []
                    for p in audio_pending:
                        if float(p.pts * ain.time_base) < limit:
                            _mux_audio(out, p, aout, origin)
                        else:
                            keep.append(p)
                    audio_pending[:] = keep

                def read_rgb(f) -> np.ndarray:
                    nonlocal resized
                    if (f.height, f.width) == frame_hw:
                        return f.to_ndarray(format="rgb24")
                    resized += (f.height, f.width) != first_hw  # a change of resolution, not the asked --size
                    return f.reformat(width=frame_hw[1], height=frame_hw[0], format="rgb24", interpolation="AREA").to_ndarray()

                def flush() -> None:
                    nonlocal done, last_pts, horizon
                    x = torch.from_numpy(np.stack([read_rgb(f) for f in batch])).permute(0, 3, 1, 2)
                    y = stylizer.stylize_tensor(x, **stylize_kwargs)
                    for f, rgb in zip(batch, to_uint8_frames(y)):
                        frame = _frame(rgb, even)
                        # Timestamps that go back (concatenated MPEG-TS restarts its clock) would stop the muxer:
                        # such a frame follows the previous one by a frame's duration instead.
                        pts = f.pts - first_pts
                        if last_pts is not None and pts <= last_pts:
                            pts = last_pts + max(1, round(1 / (rate * vin.time_base)))
                        frame.pts, frame.time_base, last_pts = pts, vin.time_base, pts
                        for packet in vout.encode(frame):
                            out.mux(packet)
                    done += len(batch)
                    if bar is not None:
                        bar.update(len(batch))
                    horizon = max(horizon, float(batch[-1].pts * vin.time_base) + 1 / float(rate))
                    if audio_pending:
                        mux_audio_until(horizon)
                    batch.clear()

                finished = False
                for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
                    if packet.stream is ain:
                        if packet.pts is None or finished:
                            continue
                        t = float(packet.pts * ain.time_base)
                        if (start and t < start) or (end is not None and t >= end):
                            continue
                        if aout is None:
                            audio_wait.append(packet)
                        elif _keep_audio(packet, origin, start):
                            audio_pending.append(packet)
                        continue
                    try:
                        frames = packet.decode()
                    except av.error.InvalidDataError:  # a damaged packet: its frame is lost, the rest is not
                        continue
                    for f in frames:
                        if f.pts is None or finished:
                            continue
                        t = float(f.pts * vin.time_base)
                        if t < start - 1e-6:
                            continue
                        if (end is not None and t >= end) or (max_frames and done + len(batch) >= max_frames):
                            finished = True
                            continue
                        if vout is None:
                            first_pts, origin = f.pts, t
                            first_hw = (f.height, f.width)
                            frame_hw = long_side_hw(first_hw, size) if size else first_hw
                            vout, even = _h264(out, *frame_hw, rate)
                            vout.time_base = vin.time_base
                            vout.codec_context.time_base = vin.time_base
                            if f.rotation:  # players turn the picture; the pixels stay as stored
                                vout.set_display_rotation(f.rotation)
                            if ain is not None:
                                aout = out.add_stream_from_template(ain)
                                audio_pending.extend(p for p in audio_wait if _keep_audio(p, origin, start))
                                audio_wait.clear()
                        batch.append(f)
                        if len(batch) == batch_size:
                            flush()
                    if finished:  # the rest of the file (and its audio) is past the piece
                        break
                if batch:
                    flush()
                if audio_pending:  # a cut piece's sound ends with its last frame; a whole file keeps all of it
                    mux_audio_until(horizon if finished else float("inf"))
                if vout is None:
                    raise VideoError(f"{src}: no frame to stylise" + (f" after {start:g} s" if start else "") + " (truncated or empty)")
                for packet in vout.encode(None):
                    out.mux(packet)
            finally:
                out.close()
    except av.error.FFmpegError as e:
        raise VideoError(f"{src}: {first_line(e)}") from None
    finally:
        inp.close()
        if bar is not None:
            bar.close()
    return VideoResult(frames=done, seconds=time.perf_counter() - t0, width=even[1], height=even[0], resized=resized)


def _keep_audio(packet, origin: float, start: float) -> bool:
    """From the start of the file, every packet (AAC's priming packet has a negative time); from a later
    start, those from the first kept frame on."""
    return not start or float(packet.pts * packet.stream.time_base) >= origin


def _mux_audio(out, packet, aout, origin: float) -> None:
    """Copy one audio packet unchanged, its timestamps shifted by ``origin`` seconds (where the video starts)."""
    shift = int(round(origin / packet.stream.time_base))
    packet.pts -= shift
    if packet.dts is not None:
        packet.dts -= shift
    packet.stream = aout
    out.mux(packet)


def _format(dst: Path) -> str:
    return {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}.get(dst.suffix.lower(), "mp4")


def frame_count(path: str | os.PathLike) -> int:
    """Frames in a video's first video stream, counted by decoding (containers' own counts can be absent)."""
    container = _open(Path(path))
    try:
        return sum(1 for _ in container.decode(video=0))
    finally:
        container.close()


def read_frames(path: str | os.PathLike, start: float = 0.0, max_frames: int | None = None) -> tuple[list[np.ndarray], Fraction]:
    """Up to ``max_frames`` frames from ``start`` seconds as H×W×3 uint8 RGB, and the frame rate (for
    measurements on a piece of a film; :func:`stylize_video` streams instead)."""
    container = _open(Path(path))
    try:
        stream = container.streams.video[0]
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream)
        frames = []
        for f in container.decode(stream):
            if f.pts is None or float(f.pts * stream.time_base) < start - 1e-6:
                continue
            frames.append(f.to_ndarray(format="rgb24"))
            if max_frames and len(frames) >= max_frames:
                break
        return frames, stream.average_rate or stream.guessed_rate or Fraction(25)
    except av.error.FFmpegError as e:
        raise VideoError(f"{path}: {first_line(e)}") from None
    finally:
        container.close()


def write_frames(frames: list[np.ndarray], path: str | os.PathLike, rate: float) -> None:
    """H×W×3 uint8 RGB frames as an H.264 video (crf 18), written atomically; odd sides padded by one edge pixel."""
    path = Path(path)
    with atomic_path(path) as tmp:
        out = av.open(str(tmp), "w", format=_format(path))
        try:
            stream, size = _h264(out, *frames[0].shape[:2], Fraction(rate).limit_denominator(1001) or 25)
            for i, rgb in enumerate(frames):
                frame = _frame(rgb, size)
                frame.pts = i
                for p in stream.encode(frame):
                    out.mux(p)
            for p in stream.encode(None):
                out.mux(p)
        finally:
            out.close()
