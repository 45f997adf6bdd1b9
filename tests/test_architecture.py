"""The architecture is a contract: layers, independent seams, Hydra kept at the top.

``.importlinter`` states it; this runs import-linter on it, so CI (``make test``) fails when
a change breaks it. Lazy imports inside functions count as imports here too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ttscale"
MAX_LINES = 400


def test_the_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    out = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_hydra_internals_are_imported_in_one_module() -> None:
    users = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "src").rglob("*.py")
        if re.search(r"^\s*(from|import) hydra\._internal", p.read_text(), re.M)
    )
    assert users == ["src/ttscale/sweep/hydra.py"]
