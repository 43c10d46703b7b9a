"""``python train.py [overrides]``: train a fast style-transfer network (conf/train.yaml).

    python train.py style=wave                          # conf/train.yaml + overrides
    python train.py experiment=quick style=udnie        # a CPU-sized recipe
    python train.py -m style=wave,udnie loss.style_weight=1,3  # a sweep, one folder per job
    python train.py style=wave ckpt_path=last           # resume exactly where the run stopped
"""

from __future__ import annotations

import sys
from functools import partial

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from stylenet.cli.entry import hydra_command
from stylenet.training.build import StyleRun, train


def swept_keys(argv: list[str]) -> frozenset[str]:
    """The keys the command line sweeps (``a=1,2``, ``range(...)``), style aside. Read from the command line
    here, in the process that starts the sweep: a launcher's job (submitit's) has its own argv."""
    parser = OverridesParser.create()
    cli = [a for a in argv if not a.startswith("-")]
    return frozenset({o.get_key_element() for o in parser.parse_overrides(cli) if o.is_sweep_override()} - {"style"})


def swept_overrides(job_overrides: list[str], keys: frozenset[str]) -> str:
    """This job's values of the swept ``keys``, as a folder name."""
    return ",".join(o for o in job_overrides if o.split("=", 1)[0].lstrip("+~") in keys)


def task(cfg: DictConfig, swept: frozenset[str] = frozenset()) -> float | None:
    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN and (values := swept_overrides(hc.overrides.task, swept)):
        with open_dict(cfg):  # sweeps: checkpoints/<style>/<swept values>/ so jobs never overwrite each other
            cfg.run_name = f"{cfg.style.name}/{values}"
    metrics, _ = train(cfg)
    return metrics.get("val/total")  # for Hydra sweepers that optimise a value


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The swept keys travel with the task (a partial, pickled by value), not through sys.argv.
    hydra_command("train", partial(task, swept=swept_keys(argv)), argv, check=lambda cfg: StyleRun(cfg).check())


if __name__ == "__main__":
    main()
