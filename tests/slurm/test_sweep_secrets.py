"""Planted secrets through every sweep path: none lands in any file, .submitit pickles included.

A key on the command line (``++model.api_key``), a password in ``model.base_url`` and two
secrets in the environment (``OPENAI_API_KEY``, ``HF_TOKEN``) are planted; then every byte of
every file under the results, logs and sweep folders (and HOME, TMPDIR) is searched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_checkpoint import TINY

KEY = "sk-TTSCALE-CANARY-sweep-5e8d2a71"
PASSWORD = "CANARYpw-3f9c1b7e"
ENV_KEY = "sk-TTSCALE-CANARY-environ-9a1f3c55"
HF_TOKEN = "hf_CANARYsweepTokenQ7v2"
SECRETS = (KEY, PASSWORD, ENV_KEY, HF_TOKEN)
GUARD_S = 300  # only stops a hung test


def _env(tmp_path: Path) -> dict[str, str]:
    for d in ("home", "tmp"):
        (tmp_path / d).mkdir(exist_ok=True)
    return os.environ | {"OPENAI_API_KEY": ENV_KEY, "HF_TOKEN": HF_TOKEN, "WANDB_MODE": "offline",
                         "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")}  # fmt: skip


def _cmd(tmp_path: Path, *overrides: str) -> list[str]:
    return [sys.executable, "run.py", "-m", f"++model.api_key={KEY}",
            f"++model.base_url=http://user:{PASSWORD}@127.0.0.1:9/v1",  # unused by backend=hf
            f"storage.results_dir={tmp_path / 'res'}", f"paths.log_dir={tmp_path / 'logs'}",
            *TINY, *overrides]  # fmt: skip


def leaks(tmp_path: Path, *texts: str) -> list[str]:
    found = [f"output {i}" for i, t in enumerate(texts) for s in SECRETS if s in t]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s[:12]}" for s in SECRETS if s.encode() in data]
    return found


def _private(tmp_path: Path) -> list[str]:
    """submitit folders that others could read."""
    return [str(p) for p in tmp_path.rglob(".submitit") if p.stat().st_mode & 0o077]


@pytest.mark.slow
def test_submitit_local_sweep_writes_no_secret(tmp_path, policy_path) -> None:
    cmd = _cmd(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.poll_s=0.5",
               "shard.count=2", "n=2")  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=GUARD_S)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert list(tmp_path.rglob("*.pkl")) and list((tmp_path / "res").rglob("merged.parquet"))
    assert leaks(tmp_path, done.stdout, done.stderr) == []
    assert _private(tmp_path) == []


@pytest.mark.slow
def test_a_sigkilled_basic_sweep_leaves_no_secret(tmp_path, policy_path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as f:
        proc = subprocess.Popen(_cmd(tmp_path, "n=2,3", "dataset.num_samples=50"), cwd=ROOT,
                                env=_env(tmp_path), stdout=f, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + GUARD_S
    while not list((tmp_path / "res").rglob("*.json")) and not list(
        (tmp_path / "logs").rglob("run.log")
    ):
        assert proc.poll() is None and time.monotonic() < deadline, out.read_text()[-2000:]
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # no atexit, no callback: only what is on disk counts
    proc.wait(timeout=30)
    assert list((tmp_path / "logs").rglob("multirun.yaml"))
    assert leaks(tmp_path, out.read_text()) == []


@pytest.mark.slurm
def test_submitit_slurm_sweep_writes_no_secret(cluster, tmp_path, policy_path) -> None:
    cmd = _cmd(tmp_path, "hydra/launcher=submitit_slurm", "hydra.launcher.poll_s=1",
               "hydra.launcher.cpus_per_task=1", "shard.count=2", "n=2")  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=GUARD_S)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert list(tmp_path.rglob("*_submitted.pkl")) and list(tmp_path.rglob("*_result.pkl"))
    assert list((tmp_path / "res").rglob("merged.parquet"))  # the merge job resolved the key
    assert leaks(tmp_path, done.stdout, done.stderr) == []
    assert _private(tmp_path) == []


@pytest.mark.slurm
def test_a_rejected_submission_leaves_no_secret_and_one_line(cluster, tmp_path) -> None:
    cmd = _cmd(tmp_path, "hydra/launcher=submitit_slurm", "hydra.launcher.partition=nosuch")
    done = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=GUARD_S)  # fmt: skip
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert "error: sbatch refused the sweep" in done.stderr and "Traceback" not in done.stderr
    assert leaks(tmp_path, done.stdout, done.stderr) == []
    assert _private(tmp_path) == []
