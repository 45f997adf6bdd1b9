"""torch's thread count follows the config, else the CPUs this job was given."""

from __future__ import annotations

import pytest
import torch

from ttscale.config import ConfigError, validate
from ttscale.run.threads import available_cpus, free_cpus, set_torch_threads


def test_env_decides_before_affinity(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert available_cpus() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's explicit choice wins
    assert available_cpus() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert available_cpus() >= 1


def test_set_and_default(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert set_torch_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert set_torch_threads(None) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_config_key_is_checked(make_cfg):
    assert validate(make_cfg("threads=2")).threads == 2
    assert validate(make_cfg()).threads is None
    with pytest.raises(ConfigError, match="threads: "):
        validate(make_cfg("threads=0"))


def test_the_default_leaves_the_cpus_other_processes_keep_busy():
    # free_cpus(usable, host CPUs, 1-minute load average, this process's own share)
    assert free_cpus(2, 2, 0.1, 0.0) == 2  # idle: every CPU (0.65x the time, bench/threads.py)
    assert free_cpus(2, 2, 1.1, 0.0) == 1  # one busy process: 1 thread (2.31x with 2)
    assert free_cpus(2, 2, 1.1, 1.0) == 2  # ... unless the busy process is this one
    assert free_cpus(2, 2, 6.0, 0.0) == 1  # never below 1
    assert free_cpus(8, 64, 32.0, 0.0) == 4  # a container: the host's load, scaled to our CPUs


def test_the_choice_and_its_reason_are_recorded(monkeypatch):
    from ttscale.run import threads
    from ttscale.run.environment import environment

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("SLURM_CPUS_PER_TASK", "2")
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert set_torch_threads(None) == 2  # a Slurm allocation is this job's alone
        assert environment()["threads_reason"] == "SLURM_CPUS_PER_TASK=2"
        monkeypatch.delenv("SLURM_CPUS_PER_TASK")
        n, why = threads.default_threads()
        assert 1 <= n <= available_cpus() and ("load average" in why or "usable" in why)
        set_torch_threads(1)
        assert environment()["threads_reason"] == "threads= in the config"
    finally:
        torch.set_num_threads(before)
