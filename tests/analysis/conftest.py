"""A small results folder from real toy runs, shared by the analysis tests (built once)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from ttscale.sweep.hydra import compose

# Two approaches, three temperature settings, two seeds of one configuration.
RUNS: tuple[tuple[str, ...], ...] = (
    ("approach=best_of_n", "prm=oracle", "prm.noise=0.3", "seed=0"),
    ("approach=best_of_n", "prm=oracle", "prm.noise=0.3", "seed=1"),
    ("approach=best_of_n", "prm=oracle", "prm.noise=0.3", "temperature=0.4"),
    ("approach=best_of_n", "prm=oracle", "prm.noise=0.3", "temps=hnc"),
    ("approach=majority", "prm=none"),
)


@pytest.fixture(scope="session")
def toy_results(tmp_path_factory, policy_path) -> Path:
    """``results/`` with 5 real toy runs: 4 problems (levels 1-4), n=4, short completions."""
    from ttscale.run.pipeline import main

    root = tmp_path_factory.mktemp("analysis") / "results"
    for overrides in RUNS:
        with contextlib.redirect_stdout(io.StringIO()):
            main(
                compose(
                    f"storage.results_dir={root}",
                    "progress=false",
                    "n=4",
                    "dataset.num_samples=4",
                    "max_tokens=96",
                    "grading.workers=1",
                    *overrides,
                )
            )
    return root
