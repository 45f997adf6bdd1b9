"""torch's thread count follows the config, else the CPUs this job was given."""

from __future__ import annotations

import pytest
import torch

from ttscale.config import ConfigError, validate
from ttscale.run.threads import available_cpus, set_torch_threads


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
