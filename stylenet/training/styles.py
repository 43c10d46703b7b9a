"""Several styles in one network (Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for Artistic
Style"): which styles a run trains, and how a trained network takes on new ones.

``python train.py styles=[wave,udnie,the_scream]`` trains one network whose instance norms hold a scale
and shift per style (:class:`~stylenet.networks.transformer.ConditionalInstanceNorm2d`). Each entry is a
shipped style (``conf/style/<name>.yaml``) or the path of any painting (named after its file). The
run's own ``style.*`` settings other than the name and image (``experiment=quick``'s ``style.size=256``,
``style.style_weight=5`` on the command line) apply to every listed style, as they would to one.

Adding a style (Dumoulin et al. §4: "a new style in a fraction of the steps"): ``init_from=`` a multi-style
checkpoint whose styles start the new list, and ``module.new_styles_only=true`` (``experiment=add_style``):
the shared convolutions and the old styles' rows stay as they are; only the new rows train.

Fine-tuning a one-style network: ``init_from=`` a one-style checkpoint in a one-style run copies every weight
and trains them all, for the same painting (a video fine-tune, ``experiment=video_finetune``) or another one
(a network that already paints learns a new painting faster than one that starts from noise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from stylenet.config import CONFIG_DIR, ConfigError
from stylenet.data.images import IMAGE_EXTENSIONS
from stylenet.networks.checkpoint import META_KEY, CheckpointMeta, network_state_dict, read_checkpoint
from stylenet.networks.transformer import ConditionalInstanceNorm2d, TransformerNet

STYLE_DIR = CONFIG_DIR / "style"
NAME_KEYS = ("name", "image")  # what is each style's own; every other style.* key the run sets applies to all


def shipped_styles() -> list[str]:
    return sorted(p.stem for p in STYLE_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def _style_file(name: str) -> DictConfig:
    """conf/style/<name>.yaml over style/_base.yaml, as Hydra composes it (the files use only that default)."""
    node = OmegaConf.load(STYLE_DIR / f"{name}.yaml")
    node.pop("defaults", None)
    return OmegaConf.merge(OmegaConf.load(STYLE_DIR / "_base.yaml"), node)


def _entry(entry: str, shared: dict[str, Any], paths: DictConfig) -> dict[str, Any]:
    """One ``styles`` entry as a style node: a shipped name, or a painting's path."""
    if (STYLE_DIR / f"{entry}.yaml").is_file() and not entry.startswith("_"):
        node = OmegaConf.merge(_style_file(entry), shared)
    elif Path(entry).suffix.lower() in IMAGE_EXTENSIONS or Path(entry).expanduser().is_file():
        node = OmegaConf.merge(OmegaConf.load(STYLE_DIR / "_base.yaml"), {"name": Path(entry).stem, "image": entry}, shared)
    else:
        raise ConfigError(f"styles: {entry!r} is neither a style ({', '.join(shipped_styles())}) nor a painting's path")
    # Resolve ${paths.root} & co. in the run's paths, then plain types (they go into checkpoints).
    resolved = OmegaConf.merge({"paths": paths}, {"style": node})
    style = OmegaConf.to_container(resolved, resolve=True)["style"]
    style["image"] = str(Path(style["image"]).expanduser())
    return style


def resolve_styles(cfg: DictConfig) -> list[dict[str, Any]] | None:
    """The styles of a multi-style run (``styles=[...]``) as plain dicts, or None for a one-style run.
    One :class:`ConfigError` line for a list that is not one, an unknown name, or a style named twice."""
    entries = cfg.get("styles")
    if entries is None:
        return None
    if isinstance(entries, str) or not isinstance(entries, (list, tuple, ListConfig)):
        raise ConfigError(f"styles={entries!r} is not a list; write styles=[wave,udnie] (or style=NAME for one style)")
    entries = [str(e) for e in entries]
    if len(entries) < 2:
        raise ConfigError(f"styles={entries} names {len(entries)} style(s); a multi-style network needs two or more "
                          "(for one, write style=NAME)")
    chosen = str(cfg.style.name)
    own = _style_file(chosen) if (STYLE_DIR / f"{chosen}.yaml").is_file() else OmegaConf.load(STYLE_DIR / "_base.yaml")
    shared = {k: v for k, v in OmegaConf.to_container(cfg.style, resolve=True).items()
              if k not in NAME_KEYS and v != own.get(k)}
    styles = [_entry(e, shared, cfg.paths) for e in entries]
    names = [s["name"] for s in styles]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"styles names {', '.join(dupes)} more than once; list each style once")
    return styles


def check_resume_styles(meta: dict[str, Any], styles: list[dict[str, Any]] | None, path: Path, style: str | None = None) -> None:
    """Resume only with the style list the checkpoint was trained on (the rows of its norms are those styles),
    and a one-style network only as its own ``style`` (its weights are that painting's)."""
    held = CheckpointMeta.from_dict(meta, str(path)).style_names
    asked = [s["name"] for s in styles] if styles else []
    was = (meta.get("style") or {}).get("name")
    if not held and not asked and style and was and was != style:
        raise ConfigError(f"{path} was trained on style={was}, but this run asks for style={style}; resume with style={was}, "
                          f"or start a new run (ckpt_path=null run_name=NEW_NAME)")
    if held != asked:
        def say(names: list[str]) -> str:
            return f"styles=[{','.join(names)}]" if names else "one style"

        raise ConfigError(f"{path} was trained with {say(held)}, but this run asks for {say(asked)}; resume with the same "
                          "list, or start a new run (ckpt_path=null run_name=NEW_NAME; init_from=... to keep its styles)")


def start_from(net: TransformerNet, path: str | Path, styles: list[dict[str, Any]] | None) -> list[int] | None:
    """``init_from=``: load a trained network into ``net`` before training; every check is one line.

    Several styles: the checkpoint is a multi-style network whose styles ``net`` holds first, new ones after.
    The shared weights and the old styles' conditional-norm rows are copied; the new rows start from the old
    styles' mean (a neutral start: the average painting, rather than an untrained identity). Returns the
    indices of the new styles.

    One style: the checkpoint is a one-style network, every weight is copied and all of them then train (a
    fine-tune, for the same painting or another). Returns None."""
    ckpt = read_checkpoint(path)
    meta = CheckpointMeta.from_dict(ckpt[META_KEY], str(path))
    old = meta.style_names
    new = [s["name"] for s in styles] if styles else []
    if new and not old:
        raise ConfigError(f"init_from={path} holds a one-style network; adding styles needs a multi-style one (styles=[...])")
    if new and (new[: len(old)] != old or len(new) <= len(old)):
        raise ConfigError(f"init_from={path} holds styles=[{','.join(old)}]: list them first, in that order, then the new "
                          f"ones (styles=[{','.join(old)},NEW]); got styles=[{','.join(new)}]")
    if old and not new:
        raise ConfigError(f"init_from={path} holds a multi-style network (styles=[{','.join(old)}]); a one-style "
                          "run starts from a one-style one. To add a painting to it: experiment=add_style "
                          f"styles=[{','.join(old)},NEW]")
    arch = {k: v for k, v in meta.arch.items() if k not in ("name", "num_styles")}
    mine = {k: v for k, v in net.config.items() if k != "num_styles"}
    if arch != mine:
        raise ConfigError(f"init_from={path} holds a network with {arch}, but this run builds {mine}; set model.* to match")
    sd = network_state_dict(ckpt)
    target = net.state_dict()
    s = len(old)
    with torch.no_grad():
        for key, value in target.items():
            if key not in sd:
                raise ConfigError(f"init_from={path} lacks {key}; the file is damaged")
            src = sd[key]
            if key.endswith((".scale", ".shift")) and src.dim() == 2 and src.shape[0] == s:
                value[:s] = src
                value[s:] = src.mean(0, keepdim=True)
            else:
                value.copy_(src)
    net.load_state_dict(target)
    return list(range(s, len(new))) if new else None


def train_only_styles(net: TransformerNet, indices: list[int]) -> None:
    """Freeze everything but the rows ``indices`` of the conditional norms (Dumoulin et al. §4): the shared
    convolutions stop training; the other rows' gradients are zeroed, so Adam leaves them exactly as they
    are (its moments stay zero for a parameter whose gradient always is)."""
    keep = torch.zeros(net.num_styles, dtype=torch.bool)
    keep[indices] = True
    for module in net.modules():
        for p in module.parameters(recurse=False):
            p.requires_grad_(isinstance(module, ConditionalInstanceNorm2d))
        if isinstance(module, ConditionalInstanceNorm2d):
            for p in (module.scale, module.shift):
                p.register_hook(lambda g, keep=keep: g * keep.to(g.device, g.dtype).unsqueeze(1))
