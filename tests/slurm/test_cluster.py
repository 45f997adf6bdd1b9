"""End to end on the local Slurm cluster (slurm/local/): sweep, merge job, kill, rerun, requeue.

`python run.py -m hydra/launcher=submitit_slurm` on the tiny models, 4 shards x n=2,4 of 6
problems (uneven shards: 2, 2, 1, 1 rows): one array, a merge job that depends on it, one
task cancelled mid-run, the printed rerun command; `hydra.launcher.wait=false`, and USR2
(timeout/preemption) followed by submitit's requeue and a resume from the checkpoint.
Every guard below (300 s) only stops a hung test; nothing asserts on timings.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_checkpoint import TINY, comparable_rows

ROOT = Path(__file__).resolve().parents[2]
GUARD_S = 300
pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture
def launch(tmp_path):
    """launch(*overrides): run.py -m on the cluster in the background, output to a file.

    On the way out, a launcher still running is killed and its jobs are cancelled, so a
    failing test leaves nothing behind on the cluster.
    """
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(*overrides: str) -> tuple[subprocess.Popen, Path]:
        out = tmp_path / f"launcher-{len(started)}.log"
        cmd = [sys.executable, "run.py", "-m", "hydra/launcher=submitit_slurm",
               "hydra.launcher.poll_s=1", "hydra.launcher.cpus_per_task=1",  # 1 torch thread
               f"storage.results_dir={tmp_path / 'results'}",
               f"paths.log_dir={tmp_path / 'logs'}", *TINY, *overrides]  # fmt: skip
        with out.open("w") as f:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, text=True)
        started.append((proc, out))
        return proc, out

    yield start
    for proc, out in started:
        if proc.poll() is None:
            proc.kill()
        ids = re.findall(r"submitted (?:array|merge job) (\d+)", out.read_text())
        if ids:
            subprocess.run(["scancel", *ids], check=False, timeout=30)


def _wait_for(pattern: str, out: Path, proc: subprocess.Popen) -> re.Match:
    deadline = time.monotonic() + GUARD_S
    while not (m := re.search(pattern, out.read_text())):
        assert proc.poll() is None, f"launcher ended before {pattern!r}:\n{out.read_text()}"
        assert time.monotonic() < deadline, f"no {pattern!r} within {GUARD_S} s"
        time.sleep(0.2)
    return m


def _finish(proc: subprocess.Popen, out: Path) -> str:
    proc.wait(timeout=GUARD_S)  # a launcher that waits forever fails here
    return out.read_text()


def _slurm(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def _state(job: str) -> str:
    out = _slurm("sacct", "-n", "-X", "-P", "-j", job, "-o", "State")
    return out.split("\n")[0].strip()


def _merged(tmp: Path, n: int) -> list[str]:
    (path,) = (tmp / "results").rglob(f"*--n-{n}--*/merged.parquet")
    return comparable_rows(path)


def test_sweep_is_one_array_with_a_merge_job_and_a_killed_task_is_rerun(
    cluster, launch, tmp_path, references
):
    proc, out = launch("shard.count=4", "n=2,4")
    m = _wait_for(r"submitted merge job (\d+) \(afterany:(\d+)\)", out, proc)
    merge_id, array_id = m.groups()
    assert f"afterany:{array_id}_*" in _slurm("scontrol", "show", "job", merge_id)
    # the task that runs shard 2 of n=4: rows [4, 5)
    jobs = dict(re.findall(r"#(\d+) : (.*)", out.read_text()))
    (task,) = [i for i, o in jobs.items() if {"shard.index=2", "n=4"} <= set(o.split())]
    deadline = time.monotonic() + GUARD_S
    while "RUNNING" not in _slurm("squeue", "-h", "-j", f"{array_id}_{task}", "-o", "%T"):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.2)
    _slurm("scancel", f"{array_id}_{task}")

    log = _finish(proc, out)
    assert proc.returncode != 0, log  # a task failed: the sweep must not look fine
    tasks = _slurm("sacct", "-n", "-X", "-P", "-j", array_id, "-o", "JobID").split()
    assert sorted(tasks) == sorted(f"{array_id}_{i}" for i in range(8))  # one array, 8 tasks
    assert _state(f"{array_id}_{task}").startswith("CANCELLED")
    assert _state(merge_id) == "FAILED"  # the merge found the gap
    assert re.findall(r"missing rows: (.*)", log) == ["[4, 5)"], log
    (rerun,) = re.findall(r"rerun: (python run.py .*)", log)
    assert "shard.index=2" in rerun and "n=4" in rerun and "hydra/launcher=submitit_slurm" in rerun
    assert _merged(tmp_path, 2) == references[2]

    # the printed command, as a user would paste it (with this interpreter)
    cmd = [sys.executable, *shlex.split(rerun)[1:]]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=GUARD_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INCOMPLETE" not in done.stdout
    assert _merged(tmp_path, 4) == references[4]  # no gap, no duplicate, same rows


def test_wait_false_returns_and_usr2_requeues_a_task_that_resumes(
    cluster, launch, tmp_path, references
):
    proc, out = launch("n=2", "checkpoint_every=1", "hydra.launcher.wait=false")
    log = _finish(proc, out)  # returns at once, saying how to follow the jobs
    assert proc.returncode == 0, log
    array_id, merge_id = re.search(r"array (\d+).*\n.*merge job (\d+)", log).groups()
    assert f"squeue -j {array_id},{merge_id}" in log and "merge report: " in log
    deadline = time.monotonic() + GUARD_S
    while not list((tmp_path / "results").rglob("part-*.parquet")):
        assert time.monotonic() < deadline, "no sub-batch saved"
        time.sleep(0.2)
    _slurm("scancel", "--signal=USR2", array_id)  # what Slurm sends before a time limit
    _wait_until_ended(merge_id)

    assert _state(merge_id) == "COMPLETED"
    # one task: submitit submits a plain job, not an array
    task_log = next((tmp_path / "logs").rglob(f"{array_id}_0_log.out")).read_text()
    assert "Requeued job" in task_log
    assert re.search(r"resuming chunk-0_6: [1-5] of 6 problems from checkpoint", task_log)
    assert "Restarts=1" in _slurm("scontrol", "show", "job", array_id)
    assert _merged(tmp_path, 2) == references[2]


def _wait_until_ended(job: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while _state(job) in ("PENDING", "RUNNING", "REQUEUED", ""):
        assert time.monotonic() < deadline, f"job {job} did not end"
        time.sleep(1)
