"""``python train.py [overrides]``: train a fast style-transfer network (conf/train.yaml).

    python train.py style=wave                          # conf/train.yaml + overrides
    python train.py experiment=quick style=udnie        # a CPU-sized recipe
    python train.py -m style=wave,udnie loss.style_weight=1,3  # a sweep, one folder per job
    python train.py style=wave ckpt_path=last           # resume exactly where the run stopped
    python train.py -m hparams_search=style_weight      # search the weights with Optuna (docs/search.md)
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from stylenet.cli.entry import hydra_command
from stylenet.errors import StylenetError
from stylenet.training.preflight import check_config
from stylenet.training.spec import RunSpec


def swept_keys(argv: list[str]) -> frozenset[str]:
    """The keys the command line sweeps (``a=1,2``, ``range(...)``), style aside. Read from the command line
    here, in the process that starts the sweep: a launcher's job (submitit's) has its own argv."""
    cli = get_args_parser().parse_known_args(argv)[0].overrides  # Hydra's own reading: `--cfg job` has a value
    try:
        overrides = OverridesParser.create().parse_overrides(cli)
    except OverrideParseException:
        return frozenset()  # a typo (`train.py foo`): hydra_command says what is wrong, in one line
    return frozenset({o.get_key_element() for o in overrides if o.is_sweep_override()} - {"style"})


def swept_overrides(job_overrides: list[str], keys: frozenset[str]) -> str:
    """This job's values of the swept ``keys``, as a folder name."""
    return ",".join(o for o in job_overrides if o.split("=", 1)[0].lstrip("+~") in keys)


def trial_outcome(cfg: DictConfig, parts: dict[str, Any]):
    """A search trial's result (stylenet/search/objective.py): pruned with its last reported figure, or the
    objective from the evaluation of its last checkpoint on the objective's photos, with the yardstick's weights."""
    from stylenet.cli.evaluate import evaluate
    from stylenet.cli.quality import evaluate_base, evaluate_config
    from stylenet.search.objective import TrialOutcome, needs_teacher, value
    from stylenet.search.pruning import SearchPruning
    from stylenet.teacher.quality import Cell

    pruning = next((cb for cb in parts["trainer"].callbacks if isinstance(cb, SearchPruning)), None)
    if pruning is not None and pruning.pruned_at is not None:
        return TrialOutcome(float(pruning.last), pruned=True, step=pruning.pruned_at)
    obj = cfg.search.objective
    name, teacher = str(obj.name), needs_teacher(str(obj.name))
    yardstick = {f"loss.{k}": (OmegaConf.to_container(v) if OmegaConf.is_config(v) else v) for k, v in (obj.loss or {}).items()}
    ecfg = evaluate_config(
        evaluate_base(cfg), ckpt=str(Path(parts["checkpoint_dir"]) / "last.ckpt"),
        photos=OmegaConf.to_container(obj.photos) if OmegaConf.is_config(obj.photos) else obj.photos,
        limit=int(obj.limit), size=int(obj.size), iterations=int(obj.iterations) if teacher else 0, init=["noise"],
        full_curve=False, repeats=1, out=str(Path(parts["checkpoint_dir"]) / "objective"), **yardstick,
    )
    result = evaluate(ecfg)
    if not result.scores:
        raise StylenetError(f"no objective photo could be scored ({'; '.join(w for _, w in result.failures)})")
    figures = Cell(cfg.style.name, int(obj.size), "trial", result.scores, len(result.failures), int(ecfg.iterations), "noise").figures()
    kept = {k: figures[k] for k in ("gap_closed", "content", *(("equiv_median",) if teacher else ()))}
    return TrialOutcome(value(name, obj.get("content_max"), figures), step=int(parts["trainer"].global_step), figures=kept)


def task(cfg: DictConfig, swept: frozenset[str] = frozenset()) -> Any:
    hc = HydraConfig.get()
    trial = OmegaConf.select(cfg, "search.trial")
    if trial is not None:  # a search's trial: checkpoints/<study>/trial-NNN/
        with open_dict(cfg):
            cfg.run_name = f"{cfg.search.study}/trial-{int(trial):03d}"
    elif hc.mode == RunMode.MULTIRUN and (values := swept_overrides(hc.overrides.task, swept)):
        with open_dict(cfg):  # sweeps: checkpoints/<style>/<swept values>/ so jobs never overwrite each other
            cfg.run_name = f"{cfg.style.name}/{values}"
    spec = check(cfg)  # before Lightning and torchvision are imported (8 s of 11 on 2 cores): a bad config is one line, fast
    from stylenet.training.build import train

    metrics, parts = train(cfg, checked=spec)
    if trial is not None:
        return trial_outcome(cfg, parts)
    return metrics.get("val/total")  # for Hydra sweepers that optimise a value


def check(cfg: DictConfig) -> RunSpec:
    """A run's checks before work, and a search's (its objective, photos and storage) when it is one."""
    spec = check_config(cfg)
    if cfg.get("search") is not None:
        from stylenet.search.objective import check_search

        check_search(cfg)
    return spec


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The swept keys travel with the task (a partial, pickled by value), not through sys.argv.
    hydra_command("train", partial(task, swept=swept_keys(argv)), argv, check=check)


if __name__ == "__main__":
    main()
