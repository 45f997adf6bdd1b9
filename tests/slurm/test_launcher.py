"""The launchers' config and glue, without a cluster: presets, sweep declaration, wait, merge.

`submitit_local` is run for real (tiny models, 2 shards): its tasks are local processes and
the merge runs after them in the launcher's process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra.core.utils import JobReturn, JobStatus

from tests.test_checkpoint import TINY, comparable_rows, solve_unsharded

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "hydra_plugins.ttscale_launcher"


def _hydra(*overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True).hydra


@pytest.mark.parametrize(
    ("launcher", "target"),
    [("submitit_slurm", "SlurmMergeLauncher"), ("slurm", "SlurmMergeLauncher"),
     ("submitit_local", "LocalMergeLauncher"), ("local", "LocalMergeLauncher")],
)  # fmt: skip
def test_launcher_names_select_the_merging_launchers(launcher, target):
    cfg = _hydra(f"hydra/launcher={launcher}")
    assert cfg.launcher._target_ == f"{PLUGIN}.launcher.{target}"
    assert cfg.launcher.wait is True and cfg.launcher.merge is True


def test_slurm_preset_and_keys_of_submitit_slurm():
    cfg = _hydra(
        "hydra/launcher=slurm", "hydra.launcher.wait=false", "hydra.launcher.partition=gpu"
    )
    launcher = cfg.launcher
    assert (launcher.gpus_per_node, launcher.max_num_timeout, launcher.array_parallelism) == (
        1,
        3,
        64,
    )
    assert (launcher.wait, launcher.partition) == (False, "gpu")


def test_multirun_sweeps_every_shard_of_shard_count():
    cfg = _hydra("shard.count=4")
    assert cfg.sweeper.params["shard.index"] == "range(0,4)"


def test_launcher_keeps_its_own_keys_out_of_submitit():
    from hydra_plugins.ttscale_launcher.launcher import SlurmMergeLauncher

    launcher = SlurmMergeLauncher(submitit_folder="x/%j", timeout_min=5, wait=False, poll_s=0.5)
    assert launcher.options.wait is False and launcher.options.poll_s == 0.5
    assert launcher.params == {"submitit_folder": "x/%j", "timeout_min": 5}


class _Job:
    def __init__(self, job_id: str, result: object) -> None:
        self.job_id, self._result = job_id, result
        self.paths = SimpleNamespace(stdout=Path(f"logs/{job_id}_0_log.out"), folder=Path("logs"))

    def results(self):
        if isinstance(self._result, Exception):
            raise self._result
        return [self._result]


def test_a_dead_task_gives_a_failed_return_not_a_hang():
    from hydra_plugins.ttscale_launcher.launcher import _returns

    ok = JobReturn(["shard.index=0"], status=JobStatus.COMPLETED, _return_value={"rows": 2})
    dead = RuntimeError("job 7_1 has state CANCELLED")
    out = _returns([_Job("7_0", ok), _Job("7_1", dead)], [["shard.index=0"], ["shard.index=1"]])
    assert out[0] is ok
    assert out[1].status == JobStatus.FAILED and out[1].overrides == ["shard.index=1"]
    with pytest.raises(RuntimeError, match="CANCELLED"):
        _ = out[1].return_value


def test_wait_false_says_how_to_follow_the_jobs():
    from hydra_plugins.ttscale_launcher.launcher import _how_to_follow

    text = _how_to_follow("7", _Job("8", None), Path("sweep/.submitit/7_0"))
    assert "squeue -j 7,8" in text and "sacct -j 7,8" in text
    assert "sweep/.submitit/7_*" in text and "logs/8_0_log.out" in text


def test_basic_launcher_callback_merges_the_completed_tasks(monkeypatch):
    import ttscale.sweep
    from hydra_plugins.ttscale_launcher.callbacks import MergeAfterSweep

    merged = []
    monkeypatch.setattr(
        ttscale.sweep, "merge_sweep", lambda cfgs, progress: merged.append((cfgs, progress)) or 0
    )
    cb = MergeAfterSweep()
    cb.on_multirun_end(config=None)
    assert merged == []  # nothing ran here (a submitit launcher's tasks run elsewhere)
    cfg0, cfg1 = {"progress": False, "i": 0}, {"progress": False, "i": 1}
    cb.on_job_end(cfg0, JobReturn(status=JobStatus.COMPLETED))
    cb.on_job_end(cfg1, JobReturn(status=JobStatus.FAILED))
    cb.on_multirun_end(config=None)
    assert merged == [([cfg0], False)]  # progress=false: no merge progress bar either
    monkeypatch.setattr(ttscale.sweep, "merge_sweep", lambda cfgs, progress: 1)  # rows missing
    with pytest.raises(SystemExit, match="missing or invalid chunks"):
        cb.on_multirun_end(config=None)


@pytest.mark.parametrize("launcher", ["basic", "submitit_local"])
def test_a_bad_combination_stops_the_sweep_before_any_task_runs(tmp_path, launcher):
    """n=6 is not divisible by beam_width 4: nothing runs, not even the valid n=4 tasks."""
    cmd = [sys.executable, "run.py", "-m", f"hydra/launcher={launcher}", "approach=beam_search",
           "approach.beam_width=4", "n=4,6", "shard.count=2", "dataset.num_samples=4",
           f"storage.results_dir={tmp_path / 'res'}", f"paths.log_dir={tmp_path / 'logs'}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "error: nothing was launched: 1 problem(s) in the sweep" in done.stderr
    assert "n=6: invalid config" in done.stderr and "divisible by beam_width (4)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "res").exists()  # no task ran
    assert not list(tmp_path.rglob("*.submitit*")) and not list(tmp_path.rglob("*_submitted.pkl"))


def test_a_sweep_whose_runs_share_a_hub_branch_stops_before_any_task_runs(tmp_path):
    """Hub branches carry the run name alone, which leaves the PRM out: prm=toy,oracle would
    push two identities to one branch per shard. (Local folders hold the fingerprint.)"""
    cmd = [sys.executable, "run.py", "-m", "prm=toy,oracle", "n=2", "dataset.num_samples=4",
           "storage=hub", "storage.repo_id=user/runs",
           f"storage.results_dir={tmp_path / 'res'}", f"paths.log_dir={tmp_path / 'logs'}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "error: nothing was launched: 1 problem(s) in the sweep" in done.stderr
    assert "prm=oracle: writes the same results (hf://datasets/user/runs@" in done.stderr
    assert "as prm=toy" in done.stderr and "prm.name: 'likelihood' -> 'oracle'" in done.stderr
    assert not (tmp_path / "res").exists()  # no task ran


def test_plain_multirun_uses_the_checked_basic_launcher():
    for overrides in [(), ("hydra/launcher=basic",)]:
        target = _hydra(*overrides).launcher._target_
        assert target == f"{PLUGIN}.launcher.CheckedBasicLauncher"


def test_a_failed_merge_fails_a_sweep_whose_tasks_all_completed():
    from hydra_plugins.ttscale_launcher.launcher import _checked

    done = [JobReturn(status=JobStatus.COMPLETED)]
    failed = [*done, JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("x"))]
    assert _checked(done, merged=True) == done
    assert _checked(failed, merged=False) == failed  # Hydra raises the task's own error
    with pytest.raises(SystemExit, match="missing or invalid chunks"):
        _checked(done, merged=False)


@pytest.mark.slow
def test_submitit_local_sweep_merges_to_the_unsharded_rows(tmp_path, policy_path):
    cmd = [sys.executable, "run.py", "-m", "hydra/launcher=submitit_local", "shard.count=2",
           "n=2", f"storage.results_dir={tmp_path / 'res'}", f"paths.log_dir={tmp_path / 'logs'}",
           "hydra.launcher.poll_s=0.5", *TINY]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "merged" in done.stdout
    (merged,) = (tmp_path / "res").rglob("merged.parquet")
    assert comparable_rows(merged) == solve_unsharded(tmp_path / "one", *TINY, "n=2")
