"""train_decoders(cfg): the universal decoders' run (Li et al. 2017; conf/decoders.yaml) through
:func:`stylenet.training.fit.fit`. :class:`DecoderRun` is what this kind of run adds to the shared
scaffolding: the levels it trains, its checks, its resume rule (a universal file with these levels) and
:class:`~stylenet.training.decoder_module.DecoderModule`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from stylenet.config import ConfigError, instantiate, user_path
from stylenet.data.images import open_image
from stylenet.networks.checkpoint import META_KEY, load_file
from stylenet.networks.meta import MAX_PAINTING_SIDE
from stylenet.training.checks import check_restored_weights, check_trainer, finite, whole
from stylenet.training.decoder_distill import Distillation, load_teacher
from stylenet.training.decoder_module import DecoderModule
from stylenet.training.decoder_style import MAX_PAINTINGS, StyleTraining
from stylenet.training.fit import fit
from stylenet.universal.checkpoint import UniversalMeta, train_command
from stylenet.universal.decoder import LEVELS, MIN_WIDTH, is_width

MAX_INIT_IMAGES = 1024  # decoders.init.images: the least-squares fit's crops (the CPU recipe's 64: 97 s for levels 2-4, docs/universal.md)

def levels_of(cfg: DictConfig) -> list[int]:
    levels = OmegaConf.to_container(cfg.decoders.levels, resolve=True) if OmegaConf.is_config(cfg.decoders.levels) else cfg.decoders.levels
    levels = [levels] if isinstance(levels, int) else levels
    if (not isinstance(levels, list) or not levels
            or any(isinstance(k, bool) or not isinstance(k, int) or k not in LEVELS for k in levels)):
        shown = repr(levels) if len(repr(levels)) <= 60 else repr(levels)[:57] + "..."  # [1]*10^6 was a 3 MB line
        raise ConfigError(f"decoders.levels={shown} must be a list of levels from {list(LEVELS)}, e.g. decoders.levels=[1,2,3,4,5]")
    return sorted(set(levels))


def style_of(cfg: DictConfig) -> StyleTraining | None:
    """decoders.style as a :class:`StyleTraining`, or None (no paintings: Li et al.'s reconstruction training).
    Every painting is opened here, so a missing or unreadable one is one line before any work."""
    style = cfg.decoders.get("style")
    paintings = style.get("paintings") if style is not None else None
    paintings = OmegaConf.to_container(paintings, resolve=True) if OmegaConf.is_config(paintings) else (paintings or [])
    if not paintings:
        return None
    if not isinstance(paintings, list) or not all(isinstance(p, str) for p in paintings) or len(paintings) > MAX_PAINTINGS:
        raise ConfigError(f"decoders.style.paintings must be a list of at most {MAX_PAINTINGS} image files, e.g. "
                          "decoders.style.paintings=[assets/styles/wave.jpg,assets/styles/udnie.jpg]")
    if levels_of(cfg) != [4]:
        raise ConfigError(f"decoders.style trains AdaIN's relu4_1 decoder alone, not levels {levels_of(cfg)}; set "
                          "decoders.levels=[4] (recipe=cpu_adain_style does), or decoders.style.paintings=[] for WCT's decoders")
    finite(cfg, "decoders.style.weight", 0, example=1.0, say="must be a finite number >= 0 (the style term's weight)")
    whole(cfg, "decoders.style.size", int(cfg.data.image_size), MAX_PAINTING_SIDE, example=256)  # a crop must fit in it
    paths = [str(user_path(p)) for p in paintings]
    for p in paths:
        open_image(p)  # missing, unreadable or not an image: ImageError naming the file
    return StyleTraining(tuple(paths), float(cfg.decoders.style.weight), int(cfg.decoders.style.size))


def width_of(cfg: DictConfig) -> float:
    """decoders.width, checked: one line for anything but a number in [MIN_WIDTH, 1]."""
    width = cfg.decoders.get("width", 1.0)
    if not is_width(width):
        raise ConfigError(f"decoders.width={width!r} must be a number in [{MIN_WIDTH}, 1] (the hidden channels against VGG's), e.g. decoders.width=0.5")
    return float(width)


def distill_of(cfg: DictConfig) -> Distillation | None:
    """decoders.distill as a :class:`Distillation`, or None. The teacher is read here, so a missing or unfit one is
    one line before any work."""
    teacher = cfg.decoders.get("distill")
    if teacher is None:
        return None
    if not isinstance(teacher, str) or not teacher:
        raise ConfigError(f"decoders.distill={teacher!r} must be a universal decoders file or a shipped name, e.g. decoders.distill=adain")
    if levels_of(cfg) != [4] or style_of(cfg) is not None:
        raise ConfigError("decoders.distill trains AdaIN's relu4_1 decoder alone, without a style loss: set decoders.levels=[4] "
                          "and decoders.style.paintings=[]")
    load_teacher(teacher, dict(OmegaConf.to_container(cfg.decoders.encoder, resolve=True)))
    return Distillation(teacher)


def check_decoder_config(cfg: DictConfig) -> None:
    """Fail fast, with one line, on what would otherwise fail minutes into the run."""
    levels_of(cfg)
    whole(cfg, "data.image_size", min(2 ** max(levels_of(cfg)), 2 ** 10), example=128)  # relu{k}_1 needs 2^k px (decoder.min_side)
    whole(cfg, "data.batch_size", 1, example=4)
    whole(cfg, "decoders.init.images", 0, MAX_INIT_IMAGES, example=64)  # unbounded, 10^6 took 19 min and 4.7 GB
    # nan stopped the run at step 0 advising a lower lr; -1 made the loss negative
    finite(cfg, "decoders.feature_weight", 0, example=1.0, say="must be a finite number >= 0 (λ of Li et al. eq. 1)")
    finite(cfg, "decoders.init.ridge", 0, above=True, example=1e-4, say="must be a positive number")
    width_of(cfg)
    if cfg.trainer.get("gradient_clip_val"):
        raise ConfigError("trainer.gradient_clip_val is not supported by the decoder training (manual optimisation); set it to null")
    check_trainer(cfg)
    style_of(cfg)
    distill_of(cfg)


def check_resume_levels(cfg: DictConfig, path: Path) -> None:
    """A checkpoint to resume must be a universal file with the levels this run trains."""
    ckpt = load_file(path)
    meta = UniversalMeta.from_dict(ckpt[META_KEY], str(path))
    check_restored_weights(ckpt["state_dict"], path)
    if meta.width != width_of(cfg):
        raise ConfigError(f"{path} holds decoders of width {meta.width:g} but this run trains width {width_of(cfg):g}; "
                          f"resume with decoders.width={meta.width:g}, or train in a new folder (run_name=NEW_NAME)")
    if list(meta.levels) != levels_of(cfg):
        raise ConfigError(f"{path} holds levels {list(meta.levels)} but this run trains {levels_of(cfg)}; resume with "
                          f"decoders.levels=[{','.join(map(str, meta.levels))}], or train the others in their own folder: "
                          f"{train_command(levels_of(cfg))} run_name=NEW_NAME")
    style = style_of(cfg)
    held, wanted = (meta.train.get("style") or {}).get("paintings"), style.describe()["paintings"] if style else None
    if held != wanted:
        raise ConfigError(f"{path} was trained {'with paintings ' + ', '.join(held) if held else 'without a style loss'} but this run "
                          f"{'has paintings ' + ', '.join(wanted) if wanted else 'has none'}; resume with the same "
                          "decoders.style.paintings, or train in a new folder (run_name=NEW_NAME)")
    held, wanted = (meta.train.get("distill") or {}).get("teacher"), cfg.decoders.get("distill")
    if held != wanted:
        raise ConfigError(f"{path} was trained {'from the teacher ' + held if held else 'without a teacher'} but this run "
                          f"{'has the teacher ' + wanted if wanted else 'has none'}; resume with the same decoders.distill, "
                          "or train in a new folder (run_name=NEW_NAME)")


def build_module(cfg: DictConfig) -> tuple[L.LightningDataModule, DecoderModule]:
    datamodule = instantiate(cfg.data, "data")
    module = instantiate(cfg.module, "module")(
        levels=levels_of(cfg),
        encoder=OmegaConf.to_container(cfg.decoders.encoder, resolve=True),
        feature_weight=float(cfg.decoders.feature_weight),
        normalize_features=bool(cfg.decoders.get("normalize_features", True)),
        image_size=int(cfg.data.image_size),
        init_images=int(cfg.decoders.init.images or 0),
        init_ridge=float(cfg.decoders.init.ridge),
        style=style_of(cfg),
        seed=int(cfg.get("seed") or 0),
        width=width_of(cfg),
        distill=distill_of(cfg),
    )
    return datamodule, module


@dataclass
class DecoderRun:
    """The decoders' run (:class:`~stylenet.training.fit.Run`): conf/decoders.yaml."""

    cfg: DictConfig

    def check(self) -> None:
        check_decoder_config(self.cfg)

    def check_resume(self, path: Path) -> None:
        check_resume_levels(self.cfg, path)

    def build(self) -> tuple[L.LightningDataModule, DecoderModule]:
        return build_module(self.cfg)


def train_decoders(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit the decoders. Returns (final metrics, {"trainer", "module", "datamodule", "checkpoint_dir"})."""
    return fit(DecoderRun(cfg))
