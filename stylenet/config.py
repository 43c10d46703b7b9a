"""Hydra/OmegaConf glue shared by train.py, the teacher and the evaluation commands."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "conf"

if not OmegaConf.has_resolver("stylenet_root"):
    # `${stylenet_root:}` in conf/paths: the repository, whatever the working directory.
    OmegaConf.register_new_resolver("stylenet_root", lambda: str(ROOT))


def compose(config_name: str = "train", overrides: list[str] | None = None):
    """Compose a config outside @hydra.main (tests, notebooks). Resolves hydra-free keys lazily."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides or [], return_hydra_config=False)
