"""``python -m stylenet zoo``: the shipped models (stylenet/zoo), listed, or built by their recipes.

    python -m stylenet zoo list                                   # names, kinds, styles, installed or not
    python -m stylenet zoo build five-paintings                   # train with its recipe, then write stylenet/zoo/five-paintings/
    python -m stylenet zoo build adain --half data.path=BSDS500/images/train data.val_path=BSDS500/images/val
                                                                  # float16 weights; photos the recipe needs, as overrides
    python -m stylenet zoo build adain --from-ckpt checkpoints/adain/last.ckpt   # convert a trained checkpoint, no training

A network's build then measures each style's stroke side on the shipped photos (assets/sample; stylenet.teacher.strokes)
and records it, for ``--stroke-scale auto``; ``--no-strokes`` skips that.

The recipes are declared once, in :data:`stylenet.zoo.MODELS`; ``build`` composes them (conf/train.yaml or
conf/decoders.yaml), trains through :func:`stylenet.training.build.train` / :func:`~stylenet.training.decoders.train_decoders`
and writes the folder with :func:`stylenet.inference.save_pretrained.save_pretrained` and a model card.
``STYLENET_ZOO=/folder`` writes and reads there instead of the package.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from stylenet import zoo
from stylenet.cli.entry import UsageError, run_argv
from stylenet.config import compose, compose_error
from stylenet.files import ROOT
from stylenet.inference.save_pretrained import CARD_KEYS, save_pretrained
from stylenet.networks.checkpoint import META_KEY, file_kind, load_file


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see python -m stylenet zoo --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m stylenet zoo", description="The models shipped inside stylenet: list them, or build them.")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="names, kinds, styles, and whether each is installed")
    b = sub.add_parser("build", help="train a shipped model with its recipe (or convert --from-ckpt) into the package")
    b.add_argument("name", choices=zoo.names())
    b.usage = "python -m stylenet zoo build NAME [--from-ckpt PATH] [--half] [--card KEY=VALUE] [KEY=VALUE ...]"
    b.epilog = "KEY=VALUE: added to the recipe, as Hydra overrides (photos that are not shipped: data.path=...)"
    b.add_argument("--from-ckpt", default=None, metavar="PATH", help="convert this checkpoint (or pretrained folder) instead of training")
    b.add_argument("--half", action="store_true", help="store float16 weights (half the size; loaded as float32)")
    b.add_argument("--no-strokes", action="store_true",
                   help="skip measuring each style's stroke side on the shipped photos (a network's build measures it: "
                        "what --stroke-scale auto reads; 20-30 min on 2 CPU cores for five styles)")
    b.add_argument("--card", action="append", default=[], metavar="KEY=VALUE",
                   help=f"a model-card field measured elsewhere (VALUE or @FILE); keys: {', '.join(CARD_KEYS)}")
    return p


def list_models() -> int:
    for m in zoo.MODELS.values():
        state = f"installed ({zoo.root() / m.name})" if zoo.is_installed(m.name) else f"not installed: python -m stylenet zoo build {m.name}"
        styles = ", ".join(m.styles) if m.styles else "any painting (--style PATH)"
        use = "" if m.license == "mit" else f"\n{'':<15} {m.photos_license}"
        print(f"{m.name:<15} {m.kind:<9} {styles}\n{'':<15} {m.summary}\n{'':<15} {state}{use}")
    return 0


def check_fits(model: zoo.ZooModel, ckpt: dict, source: str) -> None:
    """The checkpoint is what the shipped name promises (infer.py picks it by kind and style name)."""
    meta, kind = ckpt[META_KEY], file_kind(ckpt)
    if (kind == "universal") != (model.kind == "decoders"):
        raise UsageError(f"{source} holds {'universal decoders' if kind == 'universal' else 'a trained network'}; "
                         f"{model.name} is {model.summary}")
    if model.kind == "decoders" and 4 not in (meta.get("levels") or []):
        raise UsageError(f"{source} has no relu4_1 decoder (levels {meta.get('levels')}); {model.name} is AdaIN's, which needs it")
    names = tuple(s.get("name") for s in meta.get("styles") or [])
    if model.kind == "network" and names != model.styles:
        raise UsageError(f"{source} holds the styles {list(names) or [meta.get('style', {}).get('name')]}; {model.name} is {list(model.styles)}")


def train_recipe(model: zoo.ZooModel, extra: Sequence[str] = ()) -> tuple[Path, float]:
    """Train ``model`` with its recipe; (its last.ckpt, seconds)."""
    from stylenet.training.build import train
    from stylenet.training.decoders import train_decoders

    try:
        cfg = compose(model.config, [*model.overrides, *extra])
    except Exception as e:  # noqa: BLE001 - composition errors are long: one line
        raise UsageError(f"the {model.name} recipe does not compose: {compose_error(e)}") from None
    start = time.perf_counter()
    _, out = (train if model.command == "train" else train_decoders)(cfg)
    return Path(out["checkpoint_dir"]) / "last.ckpt", time.perf_counter() - start


def card_fields(items: Sequence[str]) -> dict[str, str]:
    """``--card quality=@docs/table.md time="31 min"``: what a conversion (--from-ckpt) cannot know, such as the
    training time of a run made earlier or the evaluation's table, checked before any work."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in CARD_KEYS:
            raise UsageError(f"--card {item!r}: give KEY=VALUE with KEY one of {', '.join(CARD_KEYS)}")
        if value.startswith("@"):
            try:
                value = Path(value[1:]).expanduser().read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as e:
                raise UsageError(f"--card {key}: cannot read {value[1:]} ({e.__class__.__name__}); give a text file") from None
        out[key] = value
    return out


def build(name: str, from_ckpt: str | None, half: bool, extra: dict[str, str] | None = None, overrides: Sequence[str] = (),
          strokes: bool = True) -> int:
    model = zoo.model(name)
    if from_ckpt and overrides:
        raise UsageError(f"{' '.join(overrides)}: overrides change the recipe's training; --from-ckpt converts a trained checkpoint")
    seconds = None
    src = Path(from_ckpt) if from_ckpt else None
    if src is None:
        src, seconds = train_recipe(model, overrides)
    ckpt = load_file(src)
    check_fits(model, ckpt, str(src))
    if model.kind == "network" and strokes:  # what --stroke-scale auto reads (stylenet/teacher/strokes.py)
        from stylenet.teacher.strokes import calibrate, format_table, with_stroke_sides

        sides, scores = calibrate(src, ROOT / "assets" / "sample", say=lambda msg: print(f"stroke side of {msg}", flush=True))
        print(format_table(scores))
        ckpt = {**ckpt, META_KEY: with_stroke_sides(ckpt[META_KEY], sides)}
    from stylenet.training.fit import hardware  # training's: only here, `zoo list` stays light

    card = {"title": f"stylenet {name}", "summary": model.summary[0].upper() + model.summary[1:] + ".", "load_as": name, "command": model.command_line,
            "photos": model.photos, "photos_license": model.photos_license, "license": model.license,
            "time": f"{seconds / 60:.1f} min" if seconds is not None else None, "hardware": hardware() if seconds is not None else None}
    card = {k: v for k, v in card.items() if v is not None} | (extra or {})
    folder = save_pretrained(ckpt, zoo.root() / name, half=half, card=card)
    size = sum(p.stat().st_size for p in folder.iterdir())
    dtype = json.loads((folder / "config.json").read_text())["dtype"]
    print(f"{name}: {folder} ({size / 1e6:.2f} MB, {dtype}) from {src}")
    return 0


def _main(argv: list[str]) -> int:
    # Recipe overrides (KEY=VALUE) may stand anywhere after the name, as on a train.py command line.
    args, rest = build_parser().parse_known_args(argv)
    bad = [a for a in rest if a.startswith("-") or "=" not in a or args.action != "build"]
    if bad:
        raise UsageError(f"unrecognized arguments: {' '.join(bad)} (see python -m stylenet zoo --help)")
    args.overrides = rest
    if args.action == "list":
        return list_models()
    return build(args.name, args.from_ckpt, args.half, card_fields(args.card), args.overrides, strokes=not args.no_strokes)


def main(argv: Sequence[str] | None = None) -> int:
    return run_argv(_main, sys.argv[1:] if argv is None else argv, prog="python -m stylenet zoo", usage_code=2)
