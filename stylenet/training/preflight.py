"""A style run's checks before any work (:func:`check_config`), in a module that imports neither Lightning nor
torchvision: ``train.py`` runs them before it loads the trainer, so a config no run can use is one line in
about 4 s instead of 11 (2026-12-07, 2 cores: importing Lightning and torchvision took 8 of the 11)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from stylenet.config import ConfigError, check_moved_keys, user_path
from stylenet.data.images import open_image
from stylenet.networks.checkpoint import MAX_BASE_CHANNELS, MAX_RESIDUAL_BLOCKS
from stylenet.networks.meta import MAX_PAINTING_SIDE, MAX_RESIDUAL_CHANNELS
from stylenet.networks.transformer import STEMS
from stylenet.training.checks import check_trainer, whole
from stylenet.training.spec import RunSpec
from stylenet.training.temporal import TemporalConfig


def check_config(cfg: DictConfig) -> RunSpec:
    """Fail fast, with one line, on what would otherwise fail minutes into a run (or, worse, after it).
    Returns the run's :class:`RunSpec`, read on the way."""
    check_moved_keys(cfg)  # `+optimizer.fused=true` composes, and would be ignored
    # read_checkpoint's bounds: a bigger network would train, then never load.
    whole(cfg, "model.base_channels", 1, MAX_BASE_CHANNELS, example=32)
    whole(cfg, "model.num_residual_blocks", 0, MAX_RESIDUAL_BLOCKS, example=5)
    if cfg.model.get("residual_channels") is not None:
        whole(cfg, "model.residual_channels", 1, MAX_RESIDUAL_CHANNELS, example=48)
    if cfg.model.get("stem", "full") not in STEMS:
        raise ConfigError(f"model.stem={cfg.model.stem!r} is not one of {', '.join(STEMS)}; e.g. model=fast")
    whole(cfg, "data.image_size", 1, example=256)  # the ranges of the data keys are the data module's to check
    whole(cfg, "data.batch_size", 1, example=4)
    whole(cfg, "module.style_warmup_steps", 0, example=150)  # a negative ramp used to be taken as none
    check_trainer(cfg)  # what every kind of run checks: budget, accelerator and precision, optimiser, output folders
    TemporalConfig(**OmegaConf.to_container(cfg.module.get("temporal") or {}, resolve=True))  # bad weights: one line now
    spec = RunSpec.from_cfg(cfg)  # styles=[...]: unknown names, duplicates → one line now
    for style in spec.paintings:
        size = style.get("size")  # the painting is loaded at this long side: 100000 px would allocate without limit
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= MAX_PAINTING_SIDE):
            raise ConfigError(f"style.size={size!r} ({style.get('name')}) must be a number of pixels from 16 to "
                              f"{MAX_PAINTING_SIDE}, or null for the painting's own size; e.g. style.size=512")
        open_image(style["image"])  # missing or unreadable style image → ImageError naming the file
    if spec.styles and any("TeacherScore" in str(c.get("_target_", "")) for c in (cfg.get("callbacks") or {}).values() if c is not None):
        raise ConfigError("the teacher callback scores one-style networks; drop callbacks=with_teacher and score each style "
                          "after training: python -m stylenet evaluate ckpt=... style_name=NAME photos=DIR")
    if cfg.get("init_from") and not user_path(cfg.init_from).is_file():
        raise ConfigError(f"init_from={cfg.init_from}: no such checkpoint; train the network to start from first (for "
                          f"experiment=video_finetune: python train.py experiment=quick style={OmegaConf.select(cfg, 'style.name')}"
                          "), or give init_from=PATH")
    return spec
