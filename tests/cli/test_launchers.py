"""Sweeps that leave the process (conf/hydra/launcher/: local, slurm; the `cluster` extra): the local launcher
runs a two-job sweep as two processes, each its own run folder, resumable; the SLURM config composes and
renders the sbatch script Lightning's DDP expects (one task per GPU)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT
from helpers import TINY

from stylenet.config import CONFIG_DIR


@pytest.fixture(autouse=True)
def submitit():
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
        import submitit
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must test the launchers: install the cluster extra (pip install -e '.[dev,demo,cluster,search]')")
        pytest.skip("needs the cluster extra: pip install -e '.[cluster]'")
    return submitit


def _sweep(tmp_path, *overrides):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "hydra/launcher=local", *TINY, "style=wave,udnie",
                           f"paths.checkpoints={tmp_path / 'ckpt'}", f"paths.logs={tmp_path / 'logs'}", *overrides],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)


def test_a_two_job_sweep_runs_as_two_processes_each_in_its_folder_and_resumes(tmp_path):
    r = _sweep(tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    for style in ("wave", "udnie"):
        assert (tmp_path / "ckpt" / style / "last.ckpt").is_file()
    jobs = list((tmp_path / "logs" / "multiruns").glob("*/.submitit/*/*_result.pkl"))
    assert len(jobs) == 2  # two submitit jobs: two processes
    r = _sweep(tmp_path, "trainer.max_steps=7", "ckpt_path=last")  # each job goes on from its own step 5
    assert r.returncode == 0, r.stderr[-2000:]
    import torch

    for style in ("wave", "udnie"):
        assert torch.load(tmp_path / "ckpt" / style / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 7


def test_the_slurm_config_renders_one_task_per_gpu(tmp_path, monkeypatch, submitit):
    from hydra import compose, initialize_config_dir
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4",
                                "hydra.launcher.nodes=2"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.tasks_per_node == 4
    # submitit has no dry run: its SLURM executor renders the script once it finds srun (a stand-in here).
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    params = {k: launcher[k] for k in launcher if k not in ("_target_", "submitit_folder", "max_num_timeout")}
    base = set(OmegaConf.structured(BaseQueueConf).keys())  # as the launcher maps them (hydra_submitit_launcher)
    executor = submitit.AutoExecutor(cluster="slurm", folder=tmp_path / "jobs", slurm_max_num_timeout=launcher.max_num_timeout)
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    script = executor._executor._make_submission_file_text("python -u -m submitit.core._submit x", "uid")
    for line in ("--partition=gpu", "--nodes=2", "--gpus-per-node=4", "--ntasks-per-node=4", "--cpus-per-task=8", "--time=720"):
        assert f"#SBATCH {line}\n" in script
