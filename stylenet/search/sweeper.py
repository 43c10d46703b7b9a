"""Hydra's Optuna sweeper (hydra-optuna-sweeper) with what a search of style-transfer runs needs on top:

* ``n_trials`` is the study's total: a killed search started again runs only the trials still missing, its trial
  numbers going on from the database (``search.storage``, SQLite by default); the trials the kill left running (their
  search process gone) are marked failed and their parameters asked again first (Optuna's ``enqueue_trial``);
* pruning: each trial's job reports to its trial (:class:`~stylenet.search.pruning.SearchPruning`) and may stop
  early; the job says so (:class:`~stylenet.search.objective.TrialOutcome`) and the trial is told *pruned*;
* the objective is always maximised (``search.objective``), whatever ``hydra.sweeper.direction`` says;
* after each batch the study's table, best trial and plots are written to ``search.dir``
  (:mod:`stylenet.search.report`).

Chosen with ``hparams_search=NAME`` (conf/hparams_search/), which sets ``hydra.sweeper._target_`` to the plugin
class Hydra instantiates (hydra_plugins/stylenet_search: Hydra takes plugins from that namespace only), which runs
:class:`SearchSweeperImpl`; asking, launching (any Hydra launcher: basic, submitit local or SLURM) and the search
space (``hydra.sweeper.params``, Hydra's override grammar) are the plugin's own.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides

from stylenet.config import ConfigError
from stylenet.errors import StylenetError
from stylenet.files import owner_is_gone, owner_tag
from stylenet.search import report
from stylenet.search.objective import TrialOutcome, check_search

log = logging.getLogger(__name__)


def sqlite_folder(storage: str) -> Path | None:
    """The folder of a ``sqlite:///`` storage's file (SQLite creates the file, not its folder)."""
    if not storage.startswith("sqlite:///"):
        return None
    path = storage[len("sqlite:///"):]
    return Path(path).expanduser().parent if path and path != ":memory:" else None


OWNER = "stylenet_owner"  # a running trial's system attribute: the search process that asked it (files.owner_tag)


def recover(study) -> list[int]:
    """Trials a killed search left running (their search process, on this machine, is gone): marked failed, their
    parameters asked again first. Their numbers. Trials of a search still running, here or on another machine
    sharing the study, are left alone."""
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    stale = [t for t in running if owner_is_gone(t.system_attrs.get(OWNER, ""))]
    for t in stale:
        study._storage.set_trial_state(t._trial_id, optuna.trial.TrialState.FAIL)
        with warnings.catch_warnings():  # "experimental" in Optuna 2.10
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.enqueue_trial(dict(t.params))
    return [t.number for t in stale]


def finished(study) -> int:
    import optuna

    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)))


def tell(study, number: int, **kwargs: Any) -> None:
    """``study.tell``; Optuna 2.10's grid sampler calls ``Study.stop`` after the last point, which fails outside
    ``optimize`` once the trial is already told (hydra-optuna-sweeper passes over it the same way)."""
    try:
        study.tell(number, **kwargs)
    except RuntimeError as e:
        if "Study.stop" not in str(e):
            raise


class SearchSweeperImpl(OptunaSweeperImpl):
    @classmethod
    def wrapping(cls, inner: OptunaSweeperImpl) -> SearchSweeperImpl:
        """This sweeper with the settings of the plugin's own (built from the same config keys)."""
        out = cls(inner.sampler, inner.direction, inner.storage, inner.study_name, inner.n_trials, inner.n_jobs,
                  inner.max_failure_rate, inner.search_space, None, inner.params)
        out.custom_search_space_extender = inner.custom_search_space_extender
        return out

    def _study(self, sampler: Any):
        import optuna

        return optuna.create_study(study_name=self.study_name, storage=self.storage, sampler=sampler,
                                   direction="maximize", load_if_exists=True)

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        cfg = self.config
        check_search(cfg)
        if self._get_directions() != ["maximize"]:
            raise ConfigError(f"hydra.sweeper.direction={self.direction}: a stylenet search maximises search.objective; leave it maximize")
        self._process_searchspace_config()
        distributions, fixed = create_params_from_overrides([*self._parse_sweeper_params_config(), *arguments])
        for name in fixed:
            distributions.pop(name, None)
        if not distributions:
            raise ConfigError("nothing to search: give hydra.sweeper.params (e.g. loss.style_weight: tag(log, interval(1, 10)))")
        sampler = self.sampler
        if isinstance(sampler, functools.partial) and sampler.func is optuna.samplers.GridSampler:
            grid = {k: self._to_grid_sampler_choices(d) for k, d in distributions.items()}
            sampler = sampler(grid)
            self.n_trials = min(self.n_trials, math.prod(len(v) for v in grid.values()))
        if (folder := sqlite_folder(str(self.storage))) is not None:
            folder.mkdir(parents=True, exist_ok=True)
        study = self._study(sampler)
        if again := recover(study):
            log.info("search: trials %s were left running by a stopped search; their parameters are tried again", again)
        to_go = self.n_trials - finished(study)
        log.info("search: study %s in %s, %d of %d trials done, %d to go", study.study_name, self.storage,
                 self.n_trials - max(to_go, 0), self.n_trials, max(to_go, 0))
        objective = str(cfg.search.objective.name)
        ran = 0
        while to_go > 0:
            batch = min(to_go, self.n_jobs)
            trials = [study.ask() for _ in range(batch)]
            for t in trials:
                study._storage.set_trial_system_attr(t._trial_id, OWNER, owner_tag())
            overrides = [(*o, f"search.trial={t.number}") for o, t in
                         zip(self._configure_trials(trials, distributions, fixed), trials)]
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            ran += len(returns)
            study = self._study(sampler)  # fresh: the jobs wrote their intermediate values from other connections
            failures = []
            for trial, ret in zip(trials, returns):
                try:
                    outcome = ret.return_value
                    if not isinstance(outcome, TrialOutcome):
                        raise TypeError(f"the job returned {outcome!r}, not a trial outcome (was search.trial set?)")
                except Exception as e:  # the job failed: its traceback is in its log
                    log.warning("search: trial %d failed: %s", trial.number, e)
                    tell(study, trial.number, state=optuna.trial.TrialState.FAIL)
                    failures.append(f"trial {trial.number}: {e}")
                    continue
                for k, v in outcome.figures.items():
                    study._storage.set_trial_user_attr(trial._trial_id, k, float(v))
                if outcome.pruned:
                    tell(study, trial.number, state=optuna.trial.TrialState.PRUNED)
                else:
                    tell(study, trial.number, values=[outcome.value])
                log.info("search: trial %d %s: %s = %.4g", trial.number, "pruned at step %d" % outcome.step if outcome.pruned
                         else "finished", objective, outcome.value)
            report.write(study, cfg.search.dir, objective)
            if len(failures) / len(returns) > self.max_failure_rate:
                raise StylenetError(f"{len(failures)} of {len(returns)} trials failed ({failures[0]}; its log is in the sweep's folder); "
                                    "fix it and run the same command: the study goes on (hydra.sweeper.max_failure_rate allows some)")
            to_go -= batch
        # Each batch wrote the report already; a search with nothing left to run writes it once here.
        table = report.write(study, cfg.search.dir, objective) if not ran else Path(cfg.search.dir) / "trials.md"
        best = report.best_trial(study)
        if best is not None:
            log.info("search: best trial %d, %s = %.4g: %s (%s)", best.number, objective, best.value,
                     " ".join(f"{k}={v}" for k, v in best.params.items()), table)
