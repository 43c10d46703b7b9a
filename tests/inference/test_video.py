"""Stylising videos in a stream (stylenet/inference/video.py); clips are generated (a pan across a shipped
photo with a sine tone), no film is committed."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from helpers import make_clip

from stylenet.inference.video import VideoError, stylize_video


def _streams(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(video=0))
        info = {"frames": len(frames), "size": (frames[0].width, frames[0].height), "rate": v.average_rate,
                "rotation": frames[0].rotation, "pts": [f.pts * v.time_base for f in frames]}
    with av.open(str(path)) as c:
        info["audio"] = [bytes(p) for p in c.demux(audio=0) if p.size] if c.streams.audio else None
        info["audio_codec"] = c.streams.audio[0].codec_context.name if c.streams.audio else None
    return info, frames


def test_a_clip_keeps_its_size_rate_timing_and_audio_unchanged(tmp_path, stylizer):
    src = make_clip(tmp_path / "pan.mp4", frames=12)
    r = stylize_video(stylizer, src, tmp_path / "out.mp4", batch_size=5, progress=False)
    a, _ = _streams(src)
    b, frames = _streams(tmp_path / "out.mp4")
    assert r.frames == 12 and b["frames"] == 12 and b["size"] == a["size"] == (64, 48) and b["rate"] == a["rate"]
    assert b["pts"] == a["pts"]  # same timestamps: same duration, a variable rate stays variable
    assert b["audio_codec"] == "aac" and b["audio"] == a["audio"]  # copied packet for packet, not re-encoded
    # The frames are the network's, not the photo's: compare with stylising a decoded input frame directly.
    with av.open(str(src)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    want = stylizer.stylize_tensor(torch.from_numpy(first).permute(2, 0, 1))
    got = torch.from_numpy(frames[0].to_ndarray(format="rgb24")).permute(2, 0, 1).float() / 255
    photo = torch.from_numpy(first).permute(2, 0, 1).float() / 255
    blur = lambda x: torch.nn.functional.avg_pool2d(x[None], 4)  # noqa: E731  (4:2:0 drops fine colour detail)
    assert (blur(got) - blur(want)).abs().mean() < 0.03 < (blur(got) - blur(photo)).abs().mean()


def test_a_stroke_scale_paints_each_frame_small_and_keeps_the_frame_size(tmp_path, stylizer):
    src = make_clip(tmp_path / "pan.mp4", frames=4, size=(160, 96), audio=False)
    r = stylize_video(stylizer, src, tmp_path / "out.mp4", batch_size=3, progress=False, stroke_scale=2)
    info, frames = _streams(tmp_path / "out.mp4")
    assert r.frames == 4 and info["frames"] == 4 and info["size"] == (160, 96)
    with av.open(str(src)) as c:
        first = torch.from_numpy(next(c.decode(video=0)).to_ndarray(format="rgb24")).permute(2, 0, 1)
    got = torch.from_numpy(frames[0].to_ndarray(format="rgb24")).permute(2, 0, 1).float() / 255
    blur = lambda x: torch.nn.functional.avg_pool2d(x[None], 4)  # noqa: E731  (4:2:0 drops fine colour detail)
    at_scale, full = blur(stylizer.stylize_tensor(first, stroke_scale=2)), blur(stylizer.stylize_tensor(first))
    assert (blur(got) - at_scale).abs().mean() < (blur(got) - full).abs().mean() / 2


def test_a_piece_is_cut_by_frames_or_by_seconds(tmp_path, stylizer):
    src = make_clip(tmp_path / "pan.mp4", frames=20)
    assert stylize_video(stylizer, src, tmp_path / "a.mp4", max_frames=7, progress=False).frames == 7
    r = stylize_video(stylizer, src, tmp_path / "b.mp4", start=0.5, duration=0.8, progress=False)
    b, _ = _streams(tmp_path / "b.mp4")
    assert r.frames == b["frames"] == 8 and b["pts"][0] == 0  # 10 fps: frames 5..12, the piece starts at 0


def test_a_variable_frame_rate_keeps_every_frames_time(tmp_path, stylizer):
    src = make_clip(tmp_path / "vfr.mkv", frames=6, audio=False, pts=[0, 1, 3, 4, 8, 9])
    stylize_video(stylizer, src, tmp_path / "out.mkv", progress=False)
    a, _ = _streams(src)
    b, _ = _streams(tmp_path / "out.mkv")
    assert b["pts"] == a["pts"] == [Fraction(t, 10) for t in (0, 1, 3, 4, 8, 9)]


def test_odd_sizes_ten_bit_and_rotation_tags(tmp_path, stylizer):
    odd = make_clip(tmp_path / "odd10.mkv", size=(65, 47), pix_fmt="yuv444p10le", codec="ffv1", audio=False)
    r = stylize_video(stylizer, odd, tmp_path / "odd.mkv", progress=False)
    info, _ = _streams(tmp_path / "odd.mkv")
    assert (r.width, r.height) == info["size"] == (66, 48)  # padded by one edge pixel: 4:2:0 needs even sides
    rot = make_clip(tmp_path / "rot.mp4", rotation=90, audio=False)
    stylize_video(stylizer, rot, tmp_path / "rot_out.mp4", progress=False)
    info, _ = _streams(tmp_path / "rot_out.mp4")
    assert info["rotation"] == 90 and info["size"] == (64, 48)  # pixels as stored, the player turns them


@pytest.mark.parametrize("case, match", [
    ("not a video", "not a readable video"),
    ("truncated", "not a readable video"),
    ("no video stream", "has no video stream"),
])
def test_bad_videos_are_one_line_and_leave_no_output(tmp_path, stylizer, case, match):
    src = tmp_path / "bad.mp4"
    if case == "not a video":
        src.write_bytes(b"definitely not a video" * 100)
    elif case == "truncated":
        src.write_bytes(make_clip(tmp_path / "ok.mp4").read_bytes()[:600])
    else:
        out = av.open(str(src), "w")
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        for p in [*a.encode(frame), *a.encode(None)]:
            out.mux(p)
        out.close()
    with pytest.raises(VideoError, match=match) as e:
        stylize_video(stylizer, src, tmp_path / "out.mp4", progress=False)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"bad.mp4", "ok.mp4"} & {p.name for p in tmp_path.iterdir()})


def test_a_run_stopped_midway_leaves_no_output(tmp_path, stylizer, monkeypatch):
    src = make_clip(tmp_path / "pan.mp4", frames=12)
    calls = []
    real = stylizer.stylize_tensor

    def dies_on_the_second_batch(x, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(x, **kw)

    monkeypatch.setattr(stylizer, "stylize_tensor", dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        stylize_video(stylizer, src, tmp_path / "out.mp4", batch_size=4, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pan.mp4"]  # no out.mp4, no temporary


def test_memory_does_not_hold_the_film(tmp_path, stylizer):
    # Frames stream through: the stylizer never sees more than batch_size frames at once.
    src = make_clip(tmp_path / "pan.mp4", frames=30)
    seen = []
    real = stylizer.stylize_tensor
    stylizer.stylize_tensor = lambda x, **kw: (seen.append(x.shape[0]), real(x, **kw))[1]
    try:
        stylize_video(stylizer, src, tmp_path / "out.mp4", batch_size=4, progress=False)
    finally:
        del stylizer.stylize_tensor
    assert max(seen) == 4 and sum(seen) == 30 and np.all(np.array(seen[:-1]) == 4)


def test_a_resolution_change_midway_is_resized_not_fatal_and_size_applies(tmp_path, stylizer):
    """Two MPEG-TS pieces at other sizes, byte-concatenated (as cameras and broadcasts make them): the second
    restarts its clock too. Every frame comes out at the first's size, in order; ``size`` sets the long side."""
    a = make_clip(tmp_path / "a.ts", frames=6, size=(64, 48), audio=False)
    b = make_clip(tmp_path / "b.ts", frames=6, size=(96, 72), audio=False)
    (tmp_path / "changes.ts").write_bytes(a.read_bytes() + b.read_bytes())
    for size, hw in ((None, (64, 48)), (40, (40, 30))):
        r = stylize_video(stylizer, tmp_path / "changes.ts", tmp_path / "out.mp4", size=size, progress=False)
        assert (r.frames, r.resized, (r.width, r.height)) == (12, 6, hw)
        with av.open(str(tmp_path / "out.mp4")) as c:
            frames = list(c.decode(video=0))
        pts = [f.pts for f in frames]
        assert len(frames) == 12 and {(f.width, f.height) for f in frames} == {hw} and pts == sorted(set(pts))


@pytest.mark.parametrize("max_frames", [1, 3])
def test_a_piece_cut_by_frames_keeps_only_its_own_sound(tmp_path, stylizer, max_frames):
    """The container interleaves audio ahead of video: a 1-frame piece carried 0.33 s of sound."""
    clip = make_clip(tmp_path / "pan.mp4", frames=12, fps=10)
    stylize_video(stylizer, clip, tmp_path / "piece.mp4", max_frames=max_frames, progress=False)
    with av.open(str(tmp_path / "piece.mp4")) as c:
        a = c.streams.audio[0]
        ends = [float((p.pts + p.duration) * a.time_base) for p in c.demux(a) if p.size]
    # Up to the piece's last frame (0.1 s each) and the one packet under way then (1024 samples: 23 ms).
    assert 0 < max(ends) <= max_frames * 0.1 + 1024 / 44100 + 1e-3
