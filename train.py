"""Train a fast style-transfer network.

    python train.py style=wave                          # conf/train.yaml + overrides
    python train.py experiment=quick style=udnie        # a CPU-sized recipe
    python train.py -m style=wave,udnie loss.style_weight=0.1,0.3  # a sweep, one folder per job
    python train.py style=wave ckpt_path=last           # resume exactly where the run stopped

See conf/ for every option and README.md for the rest.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

import stylenet.config  # noqa: F401  (registers the ${stylenet_root:} resolver)


def swept_overrides(job_overrides: list[str]) -> str:
    """This job's values of the keys the command line sweeps (``a=1,2``, ``range(...)``), style aside."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    cli = [a for a in sys.argv[1:] if not a.startswith("-")]
    swept = {o.get_key_element() for o in parser.parse_overrides(cli) if o.is_sweep_override()} - {"style"}
    return ",".join(o for o in job_overrides if o.split("=", 1)[0].lstrip("+~") in swept)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from stylenet.errors import StylenetError
    from stylenet.training import train

    # Lightning adds its own console handler; Hydra's root handler already prints (and files) its records.
    logging.getLogger("lightning.pytorch").propagate = False
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN and (swept := swept_overrides(hc.overrides.task)):
        with open_dict(cfg):  # sweeps: checkpoints/<style>/<swept values>/ so jobs never overwrite each other
            cfg.run_name = f"{cfg.style.name}/{swept}"
    try:
        metrics, _ = train(cfg)
    except StylenetError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    return metrics.get("val/total")  # for Hydra sweepers that optimise a value


if __name__ == "__main__":
    main()
