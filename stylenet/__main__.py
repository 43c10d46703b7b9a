"""``python -m stylenet COMMAND [args]``: every command in one place.

    python -m stylenet train style=wave          # = python train.py style=wave
    python -m stylenet infer --ckpt C photo.jpg  # = python infer.py --ckpt C photo.jpg
    python -m stylenet gatys style=wave content=photo.jpg
    python -m stylenet evaluate ckpt=checkpoints/wave/last.ckpt photos=DIR
    python -m stylenet quality photos=DIR sizes=[256,512,1024]
    python -m stylenet flicker ckpts=[checkpoints/wave/last.ckpt] video=clip.mp4
    python -m stylenet bench model=johnson_half
    python -m stylenet decoders decoders.levels=[1,2,3,4,5]
    python -m stylenet strokes checkpoints/wave/last.ckpt --out wave-pretrained
    python -m stylenet zoo list
    python -m stylenet demo                      # a web page on http://127.0.0.1:7860
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": "train a network (Hydra: conf/train.yaml)",
    "infer": "stylise images with a checkpoint, or export it (flags: --help)",
    "gatys": "stylise one photo with the Gatys et al. teacher (Hydra: conf/gatys.yaml)",
    "evaluate": "score a network against the teacher (Hydra: conf/evaluate.yaml)",
    "quality": "score candidates x paintings x sizes in one table (Hydra: conf/quality.yaml)",
    "flicker": "measure how much networks flicker on a video (Hydra: conf/flicker.yaml)",
    "bench": "measure training and inference speed (Hydra: conf/bench.yaml)",
    "decoders": "train the universal decoders for any-painting style transfer (Hydra: conf/decoders.yaml)",
    "strokes": "measure the working size each style paints best at, for --stroke-scale auto (flags: --help)",
    "zoo": "the shipped models: list them, or build one with its recipe (flags: --help)",
    "demo": "a web page to stylise photos and clips (needs the demo extra; flags: --help)",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        print("usage: python -m stylenet COMMAND [args]\n\n" + "\n".join(f"  {c:<{width}}  {h}" for c, h in COMMANDS.items()))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        return 0
    command, rest = argv[0], argv[1:]
    sys.argv = [f"{sys.argv[0]} {command}", *rest]
    return importlib.import_module(f"stylenet.cli.{command}").main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
