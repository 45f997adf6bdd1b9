"""Checkpointing a shard: sub-batch ranges, parts on disk, resume, signals, and faults.

The fault tests run ``run.py`` in a subprocess and kill it (SIGKILL, SIGTERM) once a sub-batch
is saved: no partial chunk may be left, and the rerun must resume and equal an uninterrupted
run row for row. USR2 under submitit (checkpoint + requeue) is tested on the cluster in
tests/slurm/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ttscale.run.checkpoint import (
    ShardCheckpoint,
    Terminated,
    exit_on_signals,
    solve_checkpointed,
    todo_batches,
)
from ttscale.types import Problem

ROOT = Path(__file__).resolve().parents[1]


def _problems(start: int, end: int) -> list[Problem]:
    return [
        Problem(index=i, unique_id=f"p{i}", problem=f"q{i}", answer=str(i))
        for i in range(start, end)
    ]


def _solver(calls: list[tuple[int, int]], fail_after: int | None = None):
    """A fake solve(): one row and one metric per problem; records each call's row range."""

    def solve(batch):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt("killed")
        calls.append((batch[0].index, batch[-1].index + 1))
        rows = [{"index": p.index, "unique_id": p.unique_id, "pred": p.answer} for p in batch]
        return rows, [{"acc": float(p.index % 2)} for p in batch]

    return solve


def test_todo_batches_cuts_the_uncovered_rows():
    assert todo_batches(10, 17, [], 3) == [(10, 13), (13, 16), (16, 17)]
    assert todo_batches(0, 10, [(2, 4), (6, 7)], 3) == [(0, 2), (4, 6), (7, 10)]
    assert todo_batches(0, 4, [(0, 4)], 2) == []
    assert todo_batches(0, 2, [], 50) == [(0, 2)]
    with pytest.raises(ValueError, match="checkpoint_every"):
        todo_batches(0, 2, [], 0)


def test_resume_solves_only_missing_rows_and_equals_one_pass(tmp_path):
    problems = _problems(10, 17)
    whole, whole_metrics = _solver([])(problems)
    ckpt = ShardCheckpoint(tmp_path / "ck", 10, 17)
    first: list[tuple[int, int]] = []
    with pytest.raises(KeyboardInterrupt):  # dies while solving the third sub-batch
        solve_checkpointed(problems, 10, _solver(first, fail_after=2), ckpt, 3)
    assert first == [(10, 13), (13, 16)]
    again: list[tuple[int, int]] = []
    rows, metrics = solve_checkpointed(problems, 10, _solver(again), ckpt, 3)
    assert again == [(16, 17)]
    assert (rows, metrics) == (whole, whole_metrics)


def test_load_ignores_broken_overlapping_and_foreign_parts(tmp_path):
    ckpt = ShardCheckpoint(tmp_path, 0, 6)
    solve = _solver([])
    for a, b in [(0, 2), (1, 3), (2, 4)]:
        ckpt.save(a, b, *solve(_problems(a, b)))
    (tmp_path / "part-4_6.parquet").write_bytes(b"PAR1 truncated")  # a torn write
    (tmp_path / "part-4_6.json").write_text("[{}, {}]")
    ckpt.save(6, 8, *solve(_problems(6, 8)))  # outside the shard
    rows, _ = solve(_problems(0, 2))
    rows[1]["index"] = 0  # a part whose rows are not its range
    ShardCheckpoint(tmp_path / "bad", 0, 2).save(0, 2, rows, [{}, {}])
    assert sorted(ckpt.load()) == [(0, 2), (2, 4)]
    assert ShardCheckpoint(tmp_path / "bad", 0, 2).load() == {}
    with pytest.raises(ValueError, match=r"part \[0, 2\) needs 2 rows"):
        ckpt.save(0, 2, rows[:1], [{}])
    ckpt.clear()
    assert not tmp_path.exists()


def test_exit_on_signals_turns_usr2_and_term_into_a_clean_exit():
    before = signal.getsignal(signal.SIGTERM)
    for sig in (signal.SIGUSR2, signal.SIGTERM):
        with pytest.raises(Terminated) as err, exit_on_signals():
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler raises before this ends
        assert err.value.code == 128 + sig
    assert signal.getsignal(signal.SIGTERM) == before


def test_exit_on_signals_leaves_other_handlers_alone():
    seen = []
    old = signal.signal(signal.SIGUSR2, lambda s, f: seen.append(s))
    try:
        with exit_on_signals():
            os.kill(os.getpid(), signal.SIGUSR2)
        assert seen == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, old)


# ---- the real pipeline (tiny models, a few problems) -------------------------------------

# Tiny and fast: 6 problems, 2 short samples each, majority voting (no PRM).
TINY = ["dataset.num_samples=6", "max_tokens=48", "approach=majority", "prm=none",
        "grading.workers=1", "progress=false"]  # fmt: skip
ARGS = [*TINY, "n=2"]


def comparable_rows(path: Path) -> list[str]:
    """A results file's rows as JSON, without the timing column (json makes NaN == NaN)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    return [json.dumps({k: v for k, v in r.items() if k != "search_seconds"}) for r in rows]


def solve_unsharded(results: Path, *overrides: str) -> list[str]:
    """Run the whole dataset slice as one shard in this process; its comparable rows."""
    from ttscale.run.pipeline import main
    from ttscale.sweep.hydra import compose

    summary = main(compose(f"storage.results_dir={results}", *overrides))
    return comparable_rows(Path(summary["path"]))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, policy_path) -> list[str]:
    """The shard solved in one pass, without checkpoints."""
    return solve_unsharded(tmp_path_factory.mktemp("reference"), *ARGS)


def _start_and_wait_for_part(results: Path, every: int) -> subprocess.Popen:
    """Start run.py on the shard; return once its first sub-batch is saved."""
    cmd = [sys.executable, "run.py", f"storage.results_dir={results}",
           f"checkpoint_every={every}", *ARGS]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 300  # guards against a hang only
    while not list(results.rglob("part-*.parquet")):
        assert proc.poll() is None, f"run.py ended early:\n{proc.communicate()[0]}"
        assert time.monotonic() < deadline, "no sub-batch saved within 300 s"
        time.sleep(0.05)
    return proc


def _chunk_files(results: Path) -> list[Path]:
    """Chunk files and their temp files (checkpoint parts are named part-*)."""
    return [f for f in results.rglob("*chunk-*") if f.is_file()]


def _resume(results: Path, capsys) -> list[str]:
    rows = solve_unsharded(results, "checkpoint_every=1", *ARGS)
    assert "problems from checkpoint" in capsys.readouterr().out
    assert not list(results.rglob("part-*")), "checkpoint parts must go once the chunk is written"
    return rows


@pytest.mark.slow
def test_sigkill_mid_shard_leaves_no_chunk_and_rerun_completes_it(tmp_path, reference, capsys):
    proc = _start_and_wait_for_part(tmp_path, every=1)
    proc.kill()
    proc.communicate()
    assert not _chunk_files(tmp_path), "a killed task must leave no chunk, not even a temp file"
    rows = _resume(tmp_path, capsys)
    assert rows == reference
    assert len({json.loads(r)["unique_id"] for r in rows}) == 6  # no duplicates


@pytest.mark.slow
def test_sigterm_checkpoints_and_the_rerun_resumes(tmp_path, reference, capsys):
    proc = _start_and_wait_for_part(tmp_path, every=1)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "SIGTERM: stopping" in out
    assert list(tmp_path.rglob("part-*.parquet")) and not _chunk_files(tmp_path)
    assert _resume(tmp_path, capsys) == reference
