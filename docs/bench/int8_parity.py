"""int8 against fp32 on real photos: how far onnxruntime's statically quantised network
(stylenet/inference/quantize.py) paints from the float one (docs/performance.md, "int8").

    python docs/bench/int8_parity.py [--ckpt checkpoints/wave/last.ckpt | --zoo five-paintings] [--calib assets/sample] [--photos DIR] [--size 512] [--reduce-range] [--out DIR]

Calibrates on the first half of the photos (``--calib``, default the shipped sample photos) and scores on
``--photos`` (default: the same folder, the photos not used for calibration), each resized to ``--size`` px
(long side). Prints the mean and the 99.9th percentile of the absolute pixel difference (0-255 scale) and the
PSNR of int8 against fp32, per photo and overall. ``--out DIR`` also writes each int8 output as DIR/<photo stem>.png
(the photo resized to ``--size`` first), a folder ``python -m stylenet quality`` scores as ``outputs=``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stylenet.data.images import load_image  # noqa: E402
from stylenet.inference.export import onnx_bytes, onnx_session  # noqa: E402
from stylenet.inference.quantize import quantize_onnx  # noqa: E402


def photos_in(folder: Path, size: int, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The folder's photos (the first ``limit`` by name), long side ``size``, reflection-padded to multiples of 4
    as the Stylizer pads (the outputs are cropped back)."""
    out = []
    for p in sorted(q for q in folder.iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]:
        x = load_image(p, size=size).numpy()
        h, w = x.shape[-2:]
        x = np.pad(x, ((0, 0), (0, 0), (0, -h % 4), (0, -w % 4)), mode="reflect")
        out.append((p.name, (h, w), np.ascontiguousarray(x, dtype=np.float32)))
    return out


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--ckpt")
    a.add_argument("--zoo", default="five-paintings")
    a.add_argument("--style", default=None, help="a multi-style network's style (default: its first)")
    a.add_argument("--calib", type=Path, default=Path("assets/sample"))
    a.add_argument("--photos", type=Path, default=None)
    a.add_argument("--size", type=int, default=512)
    a.add_argument("--calib-size", type=int, default=256)
    a.add_argument("--calib-limit", type=int, default=16, help="calibrate on the first N photos of --calib (by name)")
    a.add_argument("--limit", type=int, default=None, help="score the first N photos (by name)")
    a.add_argument("--reduce-range", action="store_true",
                   help="7-bit weights (onnxruntime's advice for CPUs without VNNI; off in --backend onnxruntime-int8)")
    a.add_argument("--out", type=Path, default=None, help="write the int8 outputs here, named like the photos (PNG)")
    args = a.parse_args(argv)
    from stylenet import zoo
    from stylenet.networks.checkpoint import load_network

    net, meta = load_network(args.ckpt or zoo.root() / args.zoo)
    extra = {}
    names = [s["name"] for s in meta.get("styles") or []]
    if names:
        extra["style"] = np.eye(len(names), dtype=np.float32)[names.index(args.style) if args.style else 0]
    calib = photos_in(args.calib, args.calib_size, args.calib_limit)
    photos = photos_in(args.photos, args.size, args.limit) if args.photos else photos_in(args.calib, args.size)
    if args.photos is None:  # the same folder: calibrate on the first half, score on the rest
        half = max(1, len(calib) // 2)
        calib, photos = calib[:half], photos[half:]
    graph = onnx_bytes(net)
    fp32 = onnx_session(graph, threads=torch.get_num_threads())
    int8 = onnx_session(quantize_onnx(graph, [x for _, _, x in calib], inputs=extra, reduce_range=args.reduce_range),
                        threads=torch.get_num_threads())
    diffs = []
    for name, (h, w), x in photos:
        a_ = np.clip(fp32.run(None, {"image": x, **extra})[0][..., :h, :w], 0, 1) * 255
        b_ = np.clip(int8.run(None, {"image": x, **extra})[0][..., :h, :w], 0, 1) * 255
        d = np.abs(a_ - b_)
        diffs.append(d.ravel())
        if args.out:
            from PIL import Image

            args.out.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.rint(b_[0].transpose(1, 2, 0)).astype(np.uint8)).save(args.out / f"{Path(name).stem}.png")
        psnr = 10 * math.log10(255 ** 2 / max(float((d ** 2).mean()), 1e-12))
        print(f"{name} {w}x{h}: mean |int8 - fp32| {d.mean():.2f}/255, 99.9th pct {np.percentile(d, 99.9):.1f}, PSNR {psnr:.1f} dB")
    d = np.concatenate(diffs)
    print(f"all ({len(photos)} photos, calibrated on {len(calib)}): mean {d.mean():.2f}/255, 99.9th pct {np.percentile(d, 99.9):.1f}, "
          f"PSNR {10 * math.log10(255 ** 2 / max(float((d ** 2).mean()), 1e-12)):.1f} dB")


if __name__ == "__main__":
    main(sys.argv[1:])
