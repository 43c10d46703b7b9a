"""``save_pretrained``: a checkpoint → the pretrained folder (:mod:`stylenet.networks.pretrained`), and ``push_to_hub``.

    from stylenet.inference.save_pretrained import save_pretrained, push_to_hub
    save_pretrained("checkpoints/five/last.ckpt", "five-paintings/", half=True,
                    card={"command": "python train.py experiment=quick ...", "hardware": "2 CPU cores"})
    Stylizer.from_pretrained("five-paintings/")          # or open_stylizer, infer.py --ckpt five-paintings/
    push_to_hub("five-paintings/", "me/stylenet-five-paintings")  # online only

Here, in the stylizers' layer, because it writes both kinds of file (a trained network and the universal
decoders) and validates each with its own metadata class. The weights are only the network's (or the
decoders'): no optimiser, no VGG. The folder is written beside its target and renamed into place
(:func:`stylenet.files.atomic_dir`), so a half-written folder is never seen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from stylenet.files import ROOT, atomic_dir
from stylenet.networks.checkpoint import (
    FORMAT_VERSION,
    META_KEY,
    CheckpointError,
    CheckpointMeta,
    build_network,
    file_kind,
    load_file,
    network_state_dict,
    upgrade_v1_keys,
)
from stylenet.networks.pretrained import CARD_NAME, CONFIG_NAME, DTYPES, FILES, FORMAT_NAME, PRETRAINED_VERSION, WEIGHTS_NAME
from stylenet.universal.checkpoint import PREFIX, UniversalMeta
from stylenet.universal.decoder import Decoder, level_layer

CARD_KEYS = ("title", "license", "summary", "paintings", "photos", "photos_license", "command", "steps", "time", "hardware",
             "quality", "limits", "tags", "load_as")


def _transformer(ckpt: Mapping, source: str) -> tuple[dict, dict[str, torch.Tensor]]:
    meta = CheckpointMeta.from_dict(ckpt[META_KEY], source)
    sd = ckpt["state_dict"]
    if meta.format_version == 1:
        sd, meta = upgrade_v1_keys(sd), replace(meta, format_version=FORMAT_VERSION)
    net = build_network(meta.to_dict())
    try:
        net.load_state_dict(network_state_dict({"state_dict": sd}))
    except RuntimeError as e:
        raise CheckpointError(f"{source}: weights do not match the architecture {meta.arch} ({str(e).splitlines()[0]})") from None
    return meta.to_dict(), net.state_dict()


def _universal(ckpt: Mapping, source: str) -> tuple[dict, dict[str, torch.Tensor]]:
    meta = UniversalMeta.from_dict(ckpt[META_KEY], source)
    out = {}
    for k in meta.levels:
        prefix = f"{PREFIX}{level_layer(k)}."
        dec = Decoder(k, meta.encoder["network"], meta.width)
        try:
            dec.load_state_dict({key[len(prefix):]: v for key, v in ckpt["state_dict"].items() if key.startswith(prefix)})
        except RuntimeError as e:
            raise CheckpointError(f"{source}: the level-{k} decoder's weights do not fit it ({str(e).splitlines()[0]})") from None
        out.update({prefix + key: v for key, v in dec.state_dict().items()})
    return meta.to_dict(), out


def _relative(meta: dict) -> dict:
    """Painting paths inside the repository written relative to it (assets/styles/wave.jpg), so a shipped
    config names no one's home folder."""
    def rel(style: dict) -> dict:
        image = style.get("image")
        if isinstance(image, str) and Path(image).is_absolute() and Path(image).is_relative_to(ROOT):
            return {**style, "image": str(Path(image).relative_to(ROOT))}
        return style

    out = dict(meta)
    if isinstance(out.get("style"), dict):
        out["style"] = rel(out["style"])
    if out.get("styles"):
        out["styles"] = [rel(s) for s in out["styles"]]
    return out


def painting_source(image: str | None) -> str | None:
    """The work, artist and date assets/SOURCES.md gives for a shipped painting's file, or None."""
    sources = ROOT / "assets" / "SOURCES.md"
    if not image or not sources.is_file():
        return None
    for line in sources.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0] == Path(image).name:
            return f"{cells[2]}, {cells[3]}, {cells[4]} (public domain; assets/SOURCES.md)"
    return None


def model_card(meta: dict, card: Mapping[str, Any] | None = None) -> str:
    """README.md: the Hub's YAML front matter, then what the model is and how it was made (from ``meta`` and
    ``card``: keys :data:`CARD_KEYS`)."""
    card = dict(card or {})
    if unknown := sorted(set(card) - set(CARD_KEYS)):
        raise ValueError(f"unknown model card keys {unknown}; use {', '.join(CARD_KEYS)}")
    universal = meta.get("kind") == "universal"
    where = repr(card["load_as"]) if card.get("load_as") else "'path/to/this/folder'"  # a zoo name, or the folder
    tags = ["style-transfer", "image-to-image", "stylenet", *(card.get("tags") or [])]
    lines = ["---", f"license: {card.get('license', 'mit')}", "library_name: stylenet", "pipeline_tag: image-to-image", "tags:",
             *[f"- {t}" for t in tags], "---", "",
             f"# {card.get('title') or ('stylenet universal decoders' if universal else 'stylenet ' + meta['style'].get('name', 'network'))}",
             ""]
    if card.get("summary"):
        lines += [card["summary"], ""]
    train = meta.get("train") or {}
    if universal:
        lines += [f"Decoders inverting {meta['encoder']['network']} at relu{{{','.join(str(k) for k in meta['levels'])}}}_1 "
                  "(Li et al. 2017 WCT; Huang & Belongie 2017 AdaIN at relu4_1): any painting works, no training per style.", "",
                  "```python", "from stylenet import open_stylizer", f"s = open_stylizer({where}, style='painting.jpg', transform='adain')", "```", ""]
    else:
        styles = meta.get("styles") or [meta["style"]]
        lines += ["A feed-forward style network (Johnson et al. 2016, TransformerNet "
                  f"{meta['arch']['base_channels']}x{meta['arch']['num_residual_blocks']}"
                  + (f", {len(styles)} styles by conditional instance norm, Dumoulin et al. 2017" if len(styles) > 1 else "") + ").", "",
                  "## Paintings", ""]
        for s in styles:
            src = card.get("paintings", {}).get(s["name"]) if isinstance(card.get("paintings"), Mapping) else None
            lines.append(f"- **{s['name']}**: {src or painting_source(s.get('image')) or s.get('image') or 'unknown'}")
        lines += ["", "```python", "from stylenet import Stylizer",
                  f"s = Stylizer.from_pretrained({where}{', style=' + repr(styles[0]['name']) if len(styles) > 1 else ''})", "```", ""]
    lines += ["## Training", ""]
    facts = [("Photos", card.get("photos")), ("Photos' licence", card.get("photos_license")),
             ("Command", f"`{card['command']}`" if card.get("command") else None),
             ("Steps", card.get("steps", train.get("global_step"))), ("Training image size", train.get("image_size")),
             ("Loss network", None if universal else (meta.get("loss") or {}).get("network")),
             ("Time", card.get("time")), ("Hardware", card.get("hardware"))]
    lines += [f"- {k}: {v}" for k, v in facts if v is not None] + [""]
    sided = [s for s in (meta.get("styles") or [meta.get("style") or {}]) if s.get("stroke_side")]
    if not universal and sided:
        lines += ["## Stroke sides", "",
                  "The working long side each style paints best at (the lowest training loss, the painting at the training "
                  "run's scale relative to the photo; `python -m stylenet strokes`). `--stroke-scale auto`, the default, "
                  "paints a larger photo at that size and brings it back along the photo's edges:", "",
                  *[f"- {s['name']}: {s['stroke_side']} px" for s in sided], ""]
    if card.get("quality"):
        lines += ["## Quality", "", str(card["quality"]), ""]
    default_limits = ("Any painting, but AdaIN and WCT paint its colours and textures, not its strokes: a network trained "
                      "for one painting comes closer to it; under about 400 px WCT loses the photo's layout (use AdaIN)."
                      if universal else "Trained for the styles above only; large photos are tiled; colours follow the "
                      "painting unless preserve_color is set.")
    lines += ["## Known limits", "", card.get("limits") or default_limits, ""]
    return "\n".join(lines)


def save_pretrained(src: str | os.PathLike | Mapping, folder: str | os.PathLike, *, half: bool = False,
                    card: Mapping[str, Any] | None = None) -> Path:
    """Write ``folder`` (model.safetensors, config.json, README.md) from a stylenet checkpoint (a path: .ckpt,
    exported weights, another pretrained folder; or a :func:`load_file` dict). ``half``: float16 weights (half the
    size; loaded back as float32). One :class:`CheckpointError` line for a checkpoint that is not usable."""
    ckpt = src if isinstance(src, Mapping) else load_file(src)
    source = "the checkpoint" if isinstance(src, Mapping) else str(src)
    meta, tensors = (_universal if file_kind(ckpt) == "universal" else _transformer)(ckpt, source)
    meta = _relative(meta)
    dtype = "float16" if half else "float32"
    tensors = {k: v.detach().to("cpu", DTYPES[dtype][1]).contiguous() for k, v in tensors.items()}
    if not all(torch.isfinite(v).all() for v in tensors.values()):
        raise CheckpointError(f"{source}: the weights hold non-finite values{' in float16' if half else ''}; not saved")
    config = {"format": FORMAT_NAME, "pretrained_version": PRETRAINED_VERSION, "dtype": dtype, **meta}
    text = model_card(meta, card)
    with atomic_dir(folder) as tmp:
        safetensors.torch.save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_NAME).write_text(text, encoding="utf-8")
    return Path(folder)


def push_to_hub(folder: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Publish a pretrained folder on the Hugging Face Hub (needs the network and a token; ``huggingface-cli
    login``). Only :data:`FILES` are sent. Returns the commit's URL."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    if missing := [f for f in FILES if not (folder / f).is_file()]:
        raise CheckpointError(f"{folder} is not a pretrained folder (no {', '.join(missing)}); write it with save_pretrained")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, allow_patterns=list(FILES),
                             commit_message="stylenet save_pretrained")
    return str(getattr(info, "commit_url", info))
