"""Stylise photos with a trained checkpoint, or export it. No Hydra, no Trainer.

    python infer.py --ckpt checkpoints/wave/last.ckpt photo.jpg            # → stylized/photo_wave.jpg
    python infer.py --ckpt wave.weights.pt photos/ -o out/ --size 1024     # folders, recursively
    python infer.py --ckpt wave.weights.pt scan.tif --tile 1024            # huge images, in tiles
    python infer.py --ckpt wave.weights.pt --export onnx                   # → wave.onnx (+ parity check)

`python infer.py --help` lists every option; docs/inference.md explains them and the Python API
(`from stylenet import Stylizer`).
"""

import sys

from stylenet.cli.infer import main

if __name__ == "__main__":
    sys.exit(main())
