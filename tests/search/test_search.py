"""The weight search (conf/hparams_search/, stylenet/search/; the `search` extra): the config composes, two tiny
trials run to completion in a SQLite study, the same command again continues the study's count, a hopeless trial is
pruned from its validation curve, a killed search's running trials are asked again, and a bad objective or storage
is one line before any work."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT
from helpers import TINY

from stylenet.config import ConfigError, compose


@pytest.fixture(autouse=True)
def optuna():
    try:
        import hydra_plugins.hydra_optuna_sweeper  # noqa: F401
        import optuna
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must test the search: install the search extra (pip install -e '.[dev,demo,cluster,search]')")
        pytest.skip("needs the search extra: pip install -e '.[search]'")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


PHOTOS = str(ROOT / "assets" / "sample")
SEARCH = ["hparams_search=style_weight", f"search.objective.photos={PHOTOS}", "search.objective.limit=2", "search.objective.size=48",
          "callbacks.final_samples.photos=null"]


def _search(tmp_path, *overrides):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", *TINY, *SEARCH, f"paths.checkpoints={tmp_path / 'ckpt'}",
                           f"paths.logs={tmp_path / 'logs'}", *overrides], capture_output=True, text=True, timeout=600, cwd=tmp_path)


def _study(tmp_path, optuna, name="wave-weights"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'logs' / 'search' / name / 'study.db'}")


def test_the_search_config_composes_and_passes_its_checks():
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from stylenet.cli.train import check
    from stylenet.config import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = hydra_compose("train", [*TINY, *SEARCH], return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.stylenet_search.StylenetSearchSweeper"
    assert cfg.hydra.sweeper.storage == f"sqlite:///{cfg.paths.logs}/search/wave-weights/study.db"
    assert set(cfg.hydra.sweeper.params) == {"loss.style_weight", "module.optimizer.lr"}
    assert cfg.callbacks.search_pruning.trial is None  # set per trial by the sweeper
    check(compose("train", [*TINY, *SEARCH]))


def test_two_trials_run_in_a_sqlite_study_and_the_same_command_goes_on_to_the_total(tmp_path, optuna):
    r = _search(tmp_path, "hydra.sweeper.n_trials=2")
    assert r.returncode == 0, r.stderr[-3000:]
    study = _study(tmp_path, optuna)
    assert [(t.number, t.state.name) for t in study.trials] == [(0, "COMPLETE"), (1, "COMPLETE")]
    for t in study.trials:  # scored with the yardstick on the photos: finite, the bound kept in the figures
        assert math.isfinite(t.value) and 0 < t.user_attrs["content"] and t.value == pytest.approx(t.user_attrs["gap_closed"])
        assert (tmp_path / "ckpt" / "wave-weights" / f"trial-{t.number:03d}" / "last.ckpt").is_file()  # a normal run folder
        assert 1 <= t.params["loss.style_weight"] <= 10 and 3e-4 <= t.params["module.optimizer.lr"] <= 3e-3
    assert len({t.params["loss.style_weight"] for t in study.trials}) == 2
    r = _search(tmp_path, "hydra.sweeper.n_trials=3")  # a total: one more trial, numbered after the two
    assert r.returncode == 0, r.stderr[-3000:]
    assert [t.number for t in _study(tmp_path, optuna).trials] == [0, 1, 2]
    out = tmp_path / "logs" / "search" / "wave-weights"
    table = (out / "trials.md").read_text()
    assert table.count("| complete |") == 3 and "Best: trial" in table
    best = max(_study(tmp_path, optuna).trials, key=lambda t: t.value)
    assert f"trial: {best.number}" in (out / "best.yaml").read_text()
    for plot in ("history", "importance", "slice"):
        assert (out / f"{plot}.png").stat().st_size > 1000
    r = _search(tmp_path, "hydra.sweeper.n_trials=3")  # nothing left to do
    assert r.returncode == 0 and len(_study(tmp_path, optuna).trials) == 3


def test_a_hopeless_trial_is_pruned_at_a_validation_and_stops_there(tmp_path, optuna):
    # A threshold no figure reaches: the trial is pruned at its first report (step 5 of 10).
    r = _search(tmp_path, "hydra.sweeper.n_trials=1", "trainer.max_steps=10", "search.pruner._target_=optuna.pruners.ThresholdPruner",
                "~search.pruner.n_startup_trials", "+search.pruner.lower=1000", "search.pruner.n_warmup_steps=0")
    assert r.returncode == 0, r.stderr[-3000:]
    (t,) = _study(tmp_path, optuna).trials
    assert t.state.name == "PRUNED" and t.last_step == 5 and t.value == t.intermediate_values[5]
    run = tmp_path / "ckpt" / "wave-weights" / "trial-000"
    assert not (run / "objective").exists() and not (run / "step=10.ckpt").exists()
    assert "| pruned |" in (tmp_path / "logs" / "search" / "wave-weights" / "trials.md").read_text()


@pytest.mark.parametrize("override, says", [
    ("search.objective.name=loss", "search.objective.name='loss' is not an objective; give one of gap_closed, teacher_equiv_iters"),
    ("search.storage=study.db", "search.storage='study.db' is not a database URL"),
    ("search.storage=sqlite://study.db", "a SQLite URL names a file"),
    ("search.objective.content_max=nan", "search.objective.content_max=nan must be a number > 0"),
    ("search.objective.photos=/nonexistent", "search.objective.photos: photos: /nonexistent does not exist"),
])
def test_a_bad_objective_or_storage_is_one_line_before_any_work(tmp_path, override, says):
    r = _search(tmp_path, override)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and says in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "logs" / "search").exists()


def test_objective_photos_are_needed_when_the_data_has_no_validation_folder():
    from stylenet.search.objective import check_search

    cfg = compose("train", [*TINY, "hparams_search=style_weight"])  # data=sample: no data.val_path
    with pytest.raises(ConfigError, match="search.objective.photos is empty: give held-out photos"):
        check_search(cfg)


def test_the_bound_puts_every_trial_over_it_below_every_trial_within_it():
    from stylenet.search.objective import value

    within = value("gap_closed", 1.0, {"gap_closed": 0.05, "content": 0.99})
    over = [value("gap_closed", 1.0, {"gap_closed": 0.9, "content": c}) for c in (1.01, 1.5)]
    assert within == 0.05 and over == [pytest.approx(-0.01), pytest.approx(-0.5)] and within > over[0] > over[1]
    assert value("teacher_equiv_iters", None, {"equiv_median": 31.0, "content": 5.0}) == 31.0
    assert value("gap_closed", 1.0, {"gap_closed": 0.5, "content": math.nan}) == -math.inf


def test_trials_a_killed_search_left_running_are_failed_and_asked_again(tmp_path, optuna):
    from stylenet.files import owner_tag
    from stylenet.search.sweeper import OWNER, finished, recover

    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}", direction="maximize")
    done = study.ask()
    done.suggest_float("w", 1, 10)
    study.tell(done, 1.0)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    killed, alive = study.ask(), study.ask()
    w = killed.suggest_float("w", 1, 10)
    alive.suggest_float("w", 1, 10)
    killed.set_system_attr(OWNER, dead + "@" + owner_tag().split("@")[1])  # its search process has exited
    alive.set_system_attr(OWNER, owner_tag())  # another search, still running, sharing the study
    assert recover(study) == [1] and finished(study) == 1
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "RUNNING", "WAITING"]  # WAITING: asked again
    again = study.ask()
    assert again.suggest_float("w", 1, 10) == w  # the enqueued parameters come first


def test_pruning_reports_to_its_trial_and_stops_the_trainer(tmp_path, optuna, monkeypatch):
    from stylenet.search.pruning import SearchPruning

    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    first = study.ask()
    first.report(0.5, 5)
    study.tell(first, 0.5)
    study.ask()  # trial 1, running: the job's
    cb = SearchPruning(storage, "s", 1, {"name": "gap_closed", "photos": PHOTOS, "limit": 1},
                       pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    monkeypatch.setattr(cb, "measure", lambda pl_module: 0.1)  # behind trial 0 at the same step
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, global_step=5, should_stop=False)
    module = SimpleNamespace(log=lambda *a, **k: None)
    cb.on_validation_epoch_end(trainer, module)
    assert trainer.should_stop and cb.pruned_at == 5 and cb.last == 0.1
    assert optuna.load_study(study_name="s", storage=storage).trials[1].intermediate_values == {5: 0.1}
    inactive = SearchPruning(None, None, None, {"name": "gap_closed"})  # outside a search: nothing happens
    trainer.should_stop = False
    inactive.on_validation_epoch_end(trainer, module)
    assert not trainer.should_stop

