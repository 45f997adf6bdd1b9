"""scripts/chaos.py on the local cluster: every fault it plays is survived."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.slurm
def test_every_fault_of_the_chaos_script_is_survived(cluster, policy_path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts/chaos.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    table = done.stdout
    assert done.returncode == 0, table + done.stderr[-3000:]
    rows = [ln for ln in table.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(rows) >= 25 and all("| yes |" in r or "| not run |" in r for r in rows), table
