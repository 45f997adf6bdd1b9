"""Fixtures for the cluster tests: skip with the reason when the local cluster is down."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.test_checkpoint import TINY, solve_unsharded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cluster() -> None:
    """The local Slurm cluster (slurm/local/start.sh) must be up, with accounting."""
    try:
        res = subprocess.run(
            [str(ROOT / "slurm/local/status.sh")], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"Slurm cluster status unknown ({err}); run slurm/local/start.sh")
    if res.returncode != 0:
        pytest.skip(
            f"{res.stdout.strip()} (as root: slurm/local/install.sh && slurm/local/start.sh)"
        )


@pytest.fixture(scope="session")
def references(tmp_path_factory, policy_path) -> dict[int, list[str]]:
    """Each tiny setting (n=2, n=4) solved unsharded in one process, same seeds."""
    tmp = tmp_path_factory.mktemp("unsharded")
    return {n: solve_unsharded(tmp, *TINY, f"n={n}") for n in (2, 4)}
