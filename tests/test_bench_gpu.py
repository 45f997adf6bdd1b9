"""bench/gpu.sh runs on CPU with tiny shapes (its GPU figures are in BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_the_gpu_bench_runs_with_tiny_shapes_on_cpu(tmp_path, policy_path) -> None:
    env = os.environ | {"PYTHON": sys.executable, "OUT": str(tmp_path)}
    done = subprocess.run(["bash", "bench/gpu.sh", "--tiny", "--problems", "2", "--ns", "4",
                           "--sample-n", "2", "--max-tokens", "48"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads((tmp_path / "gpu-tiny.json").read_text())
    assert figures["generate"]["time_ratio_backend_over_generate"] > 0
    (beam,) = figures["beam_search"]
    assert beam["n"] == 4 and beam["same_completions"] == 2 and beam["speedup_batched"] > 0
    inc = figures["incremental_prm"]
    assert inc["max_score_difference"] < 1e-4  # fp32 on CPU: the same scores
    assert 0 < inc["incremental_tokens_computed"] < inc["whole_tokens_computed"] / 2
