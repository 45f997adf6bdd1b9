"""Checkpoint a long shard: solve it in sub-batches and keep each finished sub-batch on disk.

With ``checkpoint_every=K`` the pipeline searches and grades a shard K problems at a time and
saves every finished sub-batch atomically as ``part-{a}_{b}.parquet`` (its rows, with its
per-problem metrics in the file's metadata) under
``{results_dir}/.checkpoints/{run prefix}/{run}/chunk-{start}_{end}/`` (the prefix holds the
run's fingerprint: see :func:`ttscale.identity.run_prefix`). A rerun (a
requeued Slurm task, or the same command after a crash) loads the parts that validate and
solves only the rows they do not cover, so a killed task loses at most one sub-batch. Each
sample is seeded by (run seed, problem id, slot), so the completions do not depend on the
batching and a resumed shard equals an uninterrupted one (PRM scores may differ in the last
digits, since the PRM pads different batches). The folder is removed once the chunk is
written.

Signals: under submitit, USR2 (time limit, preemption) is submitit's: it calls the
launcher's ``checkpoint()`` and requeues the task. In a plain process, :func:`exit_on_signals`
turns SIGTERM/SIGUSR2 into a clean exit (workers stopped, temp files removed) that keeps the
parts already saved.
"""

from __future__ import annotations

import logging
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ttscale.storage import (
    ChunkError,
    atomic_write_bytes,
    read_summary,
    read_valid_chunk,
    rows_to_parquet,
)
from ttscale.types import Problem

log = logging.getLogger("ttscale")

Rows = list[dict[str, Any]]
Metrics = list[dict[str, float]]
# solve(problems) -> (rows, per-problem metrics), one of each per problem, in order
Solver = Callable[[Sequence[Problem]], tuple[Rows, Metrics]]


class ShardCheckpoint:
    """The saved sub-batches (parts) of one shard, rows ``[start, end)`` of the dataset."""

    def __init__(self, folder: str | Path, start: int, end: int) -> None:
        self.folder = Path(folder)
        self.start, self.end = start, end

    def _path(self, a: int, b: int, suffix: str) -> Path:
        return self.folder / f"part-{a}_{b}{suffix}"

    def save(self, a: int, b: int, rows: Rows, metrics: Metrics) -> None:
        """Save rows ``[a, b)`` with their metrics in one file: a part is whole or absent."""
        if len(rows) != b - a or len(metrics) != b - a:
            raise ValueError(f"part [{a}, {b}) needs {b - a} rows and metrics")
        data = rows_to_parquet(rows, {"part": [a, b], "metrics": metrics})
        atomic_write_bytes(self._path(a, b, ".parquet"), data)

    def load(self) -> dict[tuple[int, int], tuple[Rows, Metrics]]:
        """Every part that validates, by range; overlapping or broken parts are skipped."""
        parts: dict[tuple[int, int], tuple[Rows, Metrics]] = {}
        covered = -1
        for a, b in sorted(self._ranges()):
            if a < self.start or b > self.end or a <= covered:
                log.warning("checkpoint %s: ignoring part [%d, %d)", self.folder, a, b)
                continue
            try:
                rows = read_valid_chunk(self._path(a, b, ".parquet"), a, b)
                metrics = (read_summary(self._path(a, b, ".parquet")) or {})["metrics"]
            except (ChunkError, OSError, ValueError, KeyError) as err:
                log.warning("checkpoint %s: ignoring part [%d, %d): %s", self.folder, a, b, err)
                continue
            if len(metrics) != b - a:
                continue
            parts[(a, b)] = (rows, metrics)
            covered = b - 1
        return parts

    def _ranges(self) -> Iterator[tuple[int, int]]:
        if not self.folder.is_dir():
            return
        for p in self.folder.glob("part-*.parquet"):
            lo, _, hi = p.stem.removeprefix("part-").partition("_")
            if lo.isdigit() and hi.isdigit():
                yield int(lo), int(hi)

    def clear(self) -> None:
        """Remove the parts (after the whole chunk is written, or to redo the shard)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        # Empty parent folders stay: removing them could race another shard creating its own.


def todo_batches(
    start: int, end: int, done: Sequence[tuple[int, int]], every: int
) -> list[tuple[int, int]]:
    """Row ranges of ``[start, end)`` not covered by ``done``, cut into pieces of <= ``every``."""
    if every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {every}")
    out, pos = [], start
    for a, b in [*sorted(done), (end, end)]:
        for lo in range(pos, a, every):
            out.append((lo, min(lo + every, a)))
        pos = max(pos, b)
    return out


def solve_checkpointed(
    problems: Sequence[Problem],
    start: int,
    solve: Solver,
    checkpoint: ShardCheckpoint | None,
    every: int | None,
) -> tuple[Rows, Metrics]:
    """Solve rows ``[start, start + len(problems))``, resuming from and saving to ``checkpoint``.

    Without a checkpoint (``every`` is None) the shard is solved in one call, as before.
    """
    end = start + len(problems)
    if checkpoint is None or every is None:
        return solve(problems)
    parts = checkpoint.load()
    if parts:
        n = sum(b - a for a, b in parts)
        print(f"resuming {checkpoint.folder.name}: {n} of {end - start} problems from checkpoint")
    for a, b in todo_batches(start, end, list(parts), every):
        rows, metrics = solve(problems[a - start : b - start])
        checkpoint.save(a, b, rows, metrics)
        parts[(a, b)] = (rows, metrics)
    ordered = [parts[k] for k in sorted(parts)]
    return [r for rows, _ in ordered for r in rows], [m for _, ms in ordered for m in ms]


class Terminated(SystemExit):
    """SIGTERM/SIGUSR2 in a plain process: exit cleanly, keeping the saved parts."""


@contextmanager
def exit_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGUSR2 into :class:`Terminated` while inside, unless someone handles them.

    submitit installs its own handlers (USR2: checkpoint and requeue), which are left alone;
    so is any handler outside the main thread's default.
    """

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        log.warning("%s: stopping; finished sub-batches are kept and a rerun resumes", name)
        raise Terminated(128 + signum)

    sigs = [signal.SIGTERM, signal.SIGUSR2]
    previous = {}
    try:
        for s in sigs:
            if signal.getsignal(s) == signal.SIG_DFL:
                previous[s] = signal.signal(s, handler)
    except ValueError:  # not the main thread: signals cannot be handled here
        pass
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
