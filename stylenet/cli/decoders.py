"""``python -m stylenet decoders [overrides]``: train the universal decoders (conf/decoders.yaml, docs/universal.md).

    python -m stylenet decoders                                  # levels 1-5, the CPU recipe
    python -m stylenet decoders decoders.levels=[4]              # only what AdaIN needs
    python -m stylenet decoders recipe=gpu data.path=/data/coco/train2014
    python -m stylenet decoders ckpt_path=last                   # resume exactly
    python -m stylenet decoders -m decoders.levels=[1],[2]       # a sweep: one folder per job
"""

from __future__ import annotations

import sys
from functools import partial

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from stylenet.cli.entry import hydra_command
from stylenet.cli.train import swept_keys, swept_overrides
from stylenet.training.decoders import check_decoder_config, train_decoders


def task(cfg: DictConfig, swept: frozenset[str] = frozenset()) -> float | None:
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN and (values := swept_overrides(hc.overrides.task, swept)):
        with open_dict(cfg):  # checkpoints/universal/<swept values>/: jobs never overwrite each other
            cfg.run_name = f"{cfg.run_name}/{values}"
    metrics, _ = train_decoders(cfg)
    return metrics.get("val/total")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    hydra_command("decoders", partial(task, swept=swept_keys(argv)), argv, check=check_decoder_config)


if __name__ == "__main__":
    main()
