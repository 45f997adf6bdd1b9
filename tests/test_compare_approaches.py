"""scripts/compare_approaches.py: runs shards of the sweep machinery, resumes over any chunk
size, counts each row once."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "compare_approaches.py"


def _module():
    spec = importlib.util.spec_from_file_location("compare_approaches", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _args(tmp_path, **kw):
    base = dict(
        ns=[2], approaches=["majority"], problems=4, chunk=2, results_dir=str(tmp_path),
        seed=0, max_tokens=64, policy=None, prm=None, grading_workers=1, set=[], threads=1,
    )  # fmt: skip
    return _module().argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize(("problems", "chunk", "want"), [(4, 2, [(0, 2), (2, 4)]), (5, 2, None)])
def test_chunks_are_the_shards_of_one_run(tmp_path, problems, chunk, want):
    """The script's resume unit is a shard of the sweep machinery, not its own row ranges."""
    run = _module().plan(_args(tmp_path, problems=problems, chunk=chunk), "majority", 2)
    assert len(run.chunks) == -(-problems // chunk)
    assert run.rows == (0, problems)
    if want:
        assert run.chunks == want


def _run(tmp_path, *args: str) -> str:
    cmd = [sys.executable, str(SCRIPT), "--results-dir", str(tmp_path), "--max-tokens", "64"]
    cmd += ["--problems", "4", "--ns", "2", "--approaches", "best_of_n", "majority", *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_a_rerun_with_another_chunk_size_runs_nothing_and_counts_rows_once(
    tmp_path, policy_path, prm_path
):
    first = _run(tmp_path, "--chunk", "2", "--set", "model.dtype=float32")
    assert first.count("-- best_of_n n=2 rows") == 2
    # --set reaches every run: its chunks' configs say so.
    summaries = list((tmp_path / "toy-policy").glob("*/*/*/*/chunk-*.json"))
    assert len(summaries) == 4
    assert {json.loads(p.read_text())["config"]["model"]["dtype"] for p in summaries} == {"float32"}
    assert "| majority | 2 | 4 |" in first  # 4 problems done
    # [0, 4) is covered by [0, 2) and [2, 4) (the same settings: the same run identity)
    again = _run(tmp_path, "--chunk", "4", "--set", "model.dtype=float32")
    assert "-- " not in again.split("## Approaches")[0]
    table = [line for line in again.splitlines() if line.startswith("| majority | 2 |")]
    assert table == [line for line in first.splitlines() if line.startswith("| majority | 2 |")]
    # An overlapping file (as an earlier run with another --chunk leaves) adds no rows.
    mod = _module()
    folder = next((tmp_path / "toy-policy" / "none" / "majority").glob("*/*"))
    (folder / "chunk-1_4.parquet").write_bytes((folder / "chunk-2_4.parquet").read_bytes())
    rows = mod.collect(_args(tmp_path, set=["model.dtype=float32"]))["majority", 2]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("argv", "folder"),
    [
        ([], "compare_approaches"),
        (["--prm", "oracle"], "compare_approaches-oracle"),
        (["--policy", "/x/p1/", "--prm", "/y/prm2"], "compare_approaches-p1-prm2"),
    ],
)
def test_other_models_get_their_own_results_folder(monkeypatch, argv, folder):
    """Run names do not say which PRM ran: a shared folder would mix (or refuse) results."""
    mod = _module()
    monkeypatch.setattr(sys, "argv", ["compare_approaches.py", *argv])
    assert mod.parse_args().results_dir == str(ROOT / "results" / folder)
