"""A run's merge after a Slurm array: chunks validated, rows merged, gaps turned into reruns.

:func:`merge` validates a run's chunks (readable, exact rows, no duplicates, no gaps),
writes the merged rows and their metrics (recomputed over every row, not averaged from
chunk summaries), and reports the ranges still missing; :func:`rerun_command` turns those
into the one command that reruns exactly their shards.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ttscale.config import RunConfig
from ttscale.identity import fingerprint, identity
from ttscale.redact import public_config
from ttscale.storage import ChunkError
from ttscale.storage.naming import chunk_name
from ttscale.sweep.plan import Range, RunPlan, missing_ranges, plan_runs, shards_for


@dataclass
class MergeReport:
    """What a merge found and wrote. ``missing``: row ranges with no valid chunk."""

    name: str
    expected_rows: int
    rows: int = 0
    chunks: list[Range] = field(default_factory=list)  # valid chunks used
    missing: list[Range] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # one message per chunk that did not validate
    path: str | None = None  # the merged file, written only when nothing is missing
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and self.path is not None


def _collect(plan: RunPlan, store: Any, report: MergeReport, progress: bool) -> dict[int, dict]:
    """Read every chunk of the run that lies in its rows; valid rows keyed by dataset row."""
    from tqdm.auto import tqdm

    lo, hi = plan.rows
    listed = [c for c in store.list_chunks(plan.name) if lo <= c[0] < c[1] <= hi]
    planned = set(plan.chunks)
    # This run's own shards first; chunks of another shard.count only fill what is left.
    listed.sort(key=lambda c: (c not in planned, c))
    rows: dict[int, dict] = {}
    for s, e in tqdm(listed, desc=f"read {plan.name}", disable=not progress, leave=False):
        if all(i in rows for i in range(s, e)):
            continue
        try:
            chunk = store.read_chunk(plan.name, s, e)
        except ChunkError as err:
            report.bad.append(str(err))
            continue
        for i, row in zip(range(s, e), sorted(chunk, key=lambda r: r.get("index", 0))):
            rows.setdefault(row.get("index", i), row)
        report.chunks.append((s, e))
    report.missing = missing_ranges(lo, hi, report.chunks)
    return rows


def read(plan: RunPlan, *, progress: bool = False) -> tuple[dict[int, dict], MergeReport]:
    """The valid rows a run has so far, by dataset row, and the report of what is missing."""
    report = MergeReport(plan.name, plan.rows[1] - plan.rows[0])
    rows = _collect(plan, plan.store(), report, progress)
    report.rows = len(rows)
    return rows, report


def check(plan: RunPlan, *, progress: bool = False) -> MergeReport:
    """Validate a run's chunks without writing anything (``report.path`` stays None)."""
    return read(plan, progress=progress)[1]


def merge(plan: RunPlan, *, progress: bool = True) -> MergeReport:
    """Validate the run's chunks; if none is missing, write the merged rows and metrics.

    Rows are ordered by dataset row; the output is written atomically, and merging again
    rewrites the same content. Metrics are logged to wandb when tracking is on.
    """
    from ttscale.metrics import aggregate, coverage
    from ttscale.run.evaluate import row_metrics

    store = plan.store()
    lo, hi = plan.rows
    report = MergeReport(plan.name, hi - lo)
    by_row = _collect(plan, store, report, progress)
    rows = [by_row[i] for i in sorted(by_row)]
    report.rows = len(rows)
    ids = [r.get("unique_id") for r in rows]
    if len(set(ids)) != len(ids):
        report.bad.append(f"{plan.name}: the same problem id appears in two chunks")
        return report
    if report.missing or len(rows) != hi - lo or not rows:
        return report
    run = plan.cfg
    per_problem = [
        row_metrics(
            r, draws=run.metrics.draws, subset_mode=run.metrics.subset_mode, keep=run.vote_keep
        )
        for r in rows
    ]
    report.metrics = aggregate(per_problem, missing="partial")
    ident = identity(run)
    summary = {
        "run": plan.name,
        "fingerprint": fingerprint(ident),
        "identity": ident,
        "start": lo,
        "end": hi,
        "num_problems": len(rows),
        "chunks": [chunk_name(s, e) for s, e in sorted(report.chunks)],
        "metrics": report.metrics,
        "metric_problems": coverage(per_problem),
        "config": public_config(run),
    }
    report.path = store.write_merged(plan.name, rows, summary)
    _track(run, plan.name, report.metrics, rows, len(report.chunks))
    return report


def _track(
    run: RunConfig, name: str, metrics: dict[str, float], rows: list[dict[str, Any]], chunks: int
) -> None:
    if run.tracking.name == "none":
        return
    from ttscale.run.tracking import Tracker

    tracker = Tracker(run.tracking, config=public_config(run), name=name, job_type="merge")
    try:
        tracker.log_merged(metrics, rows, chunks=chunks)
    finally:
        tracker.finish()


def rerun_args(plan: RunPlan, missing: Sequence[Range], *, redacted: bool = True) -> list[str]:
    """run.py's arguments (after ``-m``) that rerun exactly the shards holding ``missing``."""
    from ttscale.redact import redact

    shards = ",".join(map(str, shards_for(plan, missing)))
    # Printed commands show a secret given on the command line as *** (set it in the env).
    overrides = redact(plan.overrides) if redacted else list(plan.overrides)
    return [*overrides, f"shard.count={len(plan.chunks)}", f"shard.index={shards}"]


def rerun_command(plan: RunPlan, missing: Sequence[Range]) -> str:
    """ONE command that reruns exactly the shards holding ``missing`` rows."""
    return "python run.py -m " + " ".join(shlex.quote(a) for a in rerun_args(plan, missing))


def run_shards_locally(plan: RunPlan, shards: Sequence[int]) -> None:
    """Run the given shards of ``plan`` one after another in this process."""
    from ttscale.run.pipeline import main
    from ttscale.sweep.hydra import compose

    # Launcher/hydra overrides mean nothing in-process; the run's own overrides do.
    overrides = [o for o in plan.overrides if not o.lstrip("+~").startswith("hydra")]
    for i in shards:
        main(compose(*overrides, f"shard.count={len(plan.chunks)}", f"shard.index={i}"))


def overrides_parser(doc: str) -> argparse.ArgumentParser:
    """The argument parser of the merge scripts: ``doc`` as help, run.py overrides as args."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="run.py overrides (key=value, a,b sweeps)")
    return parser


def merge_sweep(cfgs: Iterable[Any], *, progress: bool = True) -> int:
    """Plan and merge every run of a sweep; print a table, missing ranges and rerun commands.

    Returns:
        The exit code: 0 if every run merged, 1 if any has missing or invalid chunks.
    """
    reports = [(p, merge(p, progress=progress)) for p in plan_runs(cfgs)]
    print(format_reports(reports))
    return 0 if all(r.ok for _, r in reports) else 1


def format_reports(reports: Sequence[tuple[RunPlan, MergeReport]]) -> str:
    """The merge table, then per incomplete run: bad chunks, missing ranges, rerun command."""
    width = max([3, *(len(p.name) for p, _ in reports)])
    head = f"{'run':<{width}} {'rows':>11} {'chunks':>7}  status"
    lines = [head, "-" * len(head)]
    for plan, r in reports:
        status = "merged" if r.ok else "INCOMPLETE"
        cnt = f"{r.rows}/{r.expected_rows}"
        lines.append(f"{plan.name:<{width}} {cnt:>11} {len(r.chunks):>7}  {status}")
    for plan, r in reports:
        lines.append(f"\n{plan.label}: {r.path if r.ok else 'not merged'}")
        lines += [f"  invalid chunk: {b}" for b in r.bad]
        if r.missing:
            ranges = ", ".join(f"[{s}, {e})" for s, e in r.missing)
            lines.append(f"  missing rows: {ranges}")
            lines.append(f"  rerun: {rerun_command(plan, r.missing)}")
    return "\n".join(lines)
