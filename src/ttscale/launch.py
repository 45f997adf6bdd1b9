"""A sweep's runs, their merge, and the missing chunks: what runs after a Slurm array.

A *run* is every shard of one hyper-parameter setting; its name comes from
:func:`ttscale.naming.run_name`, its shards' ranges from :func:`ttscale.data.shard_range`.
:func:`merge` validates a run's chunks (readable, exact rows, no duplicates, no gaps),
writes the merged rows and their metrics (recomputed over every row, not averaged from
chunk summaries), and reports the ranges still missing; :func:`rerun_command` turns those
into the one command that reruns exactly their shards.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ttscale.config import ROOT, RunConfig, ShardConfig, validate
from ttscale.data import shard_range
from ttscale.identity import differences, fingerprint, identity, run_prefix
from ttscale.naming import chunk_name, run_name
from ttscale.redact import public_config
from ttscale.store import ChunkError, Store, build_store

Range = tuple[int, int]
_SHARD_KEYS = ("shard.index", "shard.count")


@dataclass
class RunPlan:
    """One run of a sweep: all shards of one hyper-parameter setting."""

    name: str  # naming.run_name(...)
    cfg: RunConfig  # of shard 0 (only shard.index differs between a run's tasks)
    chunks: list[Range]  # [start, end) of every shard, by shard index (empty ones included)
    overrides: list[str]  # the user's overrides for this run, without shard.index/count
    options: Any = None  # the approach's validated options

    def store(self) -> Store:
        """The run's store, bound to its identity: other runs' chunks are refused."""
        return build_store(self.cfg, self.options)

    @property
    def label(self) -> str:
        """``{model}/{prm}/{approach}/{fingerprint}/{run name}``: unique within a sweep."""
        return f"{run_prefix(self.cfg, self.options)}/{self.name}"

    @property
    def rows(self) -> Range:
        """The dataset rows [lo, hi) the run covers."""
        return self.chunks[0][0], self.chunks[-1][1]


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


# -- intervals -------------------------------------------------------------------------
def merge_intervals(ranges: Iterable[Range]) -> list[Range]:
    """Union of half-open ranges, sorted and coalesced; empty ranges dropped."""
    out: list[list[int]] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def missing_ranges(lo: int, hi: int, covered: Iterable[Range]) -> list[Range]:
    """The parts of [lo, hi) that ``covered`` does not cover."""
    gaps, pos = [], lo
    for s, e in merge_intervals(covered):
        if s > pos:
            gaps.append((pos, min(s, hi)))
        pos = max(pos, e)
        if pos >= hi:
            break
    if pos < hi:
        gaps.append((pos, hi))
    return [g for g in gaps if g[1] > g[0]]


def shards_for(plan: RunPlan, missing: Sequence[Range]) -> list[int]:
    """Indices of the shards whose rows overlap ``missing``."""
    return [
        i
        for i, (s, e) in enumerate(plan.chunks)
        if e > s and any(s < me and ms < e for ms, me in missing)
    ]


# -- planning --------------------------------------------------------------------------
def plan_runs(cfgs: Iterable[Any]) -> list[RunPlan]:
    """Composed per-task configs (DictConfig) -> runs, grouped by store and run name.

    The user's overrides are read from ``hydra.overrides`` (present in a Hydra job's config
    and in :func:`compose_sweep`'s); configs without them give a plan with no overrides.
    """
    plans: dict[tuple[str, str, str], RunPlan] = {}
    for cfg in cfgs:
        run, options, schedule = validate(cfg)
        name = run_name(run, options, schedule)
        key = (run.storage.model_dump_json(), fingerprint(identity(run, options)), name)
        if key in plans:
            continue
        lo, hi = _dataset_rows(run)
        count = run.shard.count
        chunks = [
            (lo + s, lo + e) for s, e in (shard_range(hi - lo, i, count) for i in range(count))
        ]
        plans[key] = RunPlan(
            name,
            run.model_copy(update={"shard": ShardConfig(index=0, count=count)}),
            chunks,
            _user_overrides(cfg),
            options,
        )
    return list(plans.values())


def sweep_errors(cfgs: Sequence[Any], job_overrides: Sequence[Sequence[str]]) -> list[str]:
    """The bad input of every task of a sweep, one line per distinct problem.

    Launchers call this before any task runs, so a typo in one combination stops the sweep in
    seconds instead of after the combinations before it. Each task's config is validated
    (cheap); dataset rows, model folders and PRM tokens are checked once per run (tasks that
    differ only in their shard share them).
    """
    from ttscale.preflight import BAD_INPUT, preflight

    errors: dict[str, None] = {}  # ordered and deduplicated: shards of one run share an error
    checked: set[str] = set()
    writers: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}  # chunk -> first task
    # Name a task by the overrides the sweep varies (n=6), not those all tasks share.
    shared = set.intersection(*(set(o) for o in job_overrides)) if job_overrides else set()
    for cfg, overrides in zip(cfgs, job_overrides):
        own = [o for o in overrides if _key(o) not in _SHARD_KEYS]
        label = " ".join(o for o in own if o not in shared) or " ".join(own) or "(defaults)"
        try:
            run, options, schedule = validate(cfg)
            key = run.model_copy(update={"shard": ShardConfig()}).model_dump_json()
            if key not in checked:
                checked.add(key)
                _dataset_rows(run)
                preflight(run, options)
            clash = _same_chunk(writers, run, options, run_name(run, options, schedule), label)
            if clash:
                errors[clash] = None
        except BAD_INPUT as err:
            errors[f"{label}: {err}"] = None
    return list(errors)


def _same_chunk(
    writers: dict[Any, tuple[str, dict[str, Any]]],
    run: RunConfig,
    options: Any,
    name: str,
    label: str,
) -> str | None:
    """An error if an earlier task writes the same place with another run identity.

    Local folders hold the fingerprint, so this only happens where a store names chunks by
    the run name alone (Hub branches): ``-m prm=toy,oracle storage=hub`` would make two
    runs push one branch per shard.
    """
    lo, hi = _dataset_rows(run)
    start, end = shard_range(hi - lo, run.shard.index, run.shard.count)
    ident = identity(run, options)
    where = build_store(run, options, ident).chunk_path(name, lo + start, lo + end)
    first, seen = writers.setdefault(str(where), (label, ident))
    if first == label or seen == ident:
        return None
    return (
        f"{label}: writes the same results ({where}) as {first}, with other settings "
        f"({'; '.join(differences(seen, ident))}): give one of them another storage"
    )


def _key(override: str) -> str:
    return override.lstrip("+~").split("=")[0]


def _dataset_rows(run: RunConfig) -> Range:
    return _rows_of(run.dataset.model_dump_json())


@cache
def _rows_of(dataset_json: str) -> Range:
    """[lo, hi) of the dataset slice; loads (and validates) the dataset once per config."""
    from ttscale.config import DatasetConfig
    from ttscale.data import load_rows, row_range

    d = DatasetConfig.model_validate_json(dataset_json)
    rows = load_rows(d.source, d.path, d.split, d.name)
    return row_range(len(rows), d.start, d.end, d.num_samples)


def _user_overrides(cfg: Any) -> list[str]:
    """The command-line overrides that made ``cfg`` (hydra ones first), minus shard keys."""
    from omegaconf import DictConfig, OmegaConf

    if not isinstance(cfg, DictConfig):
        return []
    hydra = [
        o
        for o in OmegaConf.select(cfg, "hydra.overrides.hydra", default=None) or []
        if not o.startswith("hydra.mode=")
    ]
    task = OmegaConf.select(cfg, "hydra.overrides.task", default=None) or []
    return [o for o in [*hydra, *task] if _key(o) not in _SHARD_KEYS]


def compose_sweep(overrides: Sequence[str]) -> list[Any]:
    """One composed config per run of a sweep given run.py-style overrides.

    Comma sweeps, ``range()``, ``glob()`` and ``hydra.sweeper.params`` expand as Hydra's basic
    sweeper expands them (command line wins); shard.index sweeps are dropped, since a
    run's plan covers all its shards anyway.
    """
    from hydra import compose, initialize_config_dir
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    conf = str(ROOT / "conf")
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(conf))
    parser = OverridesParser.create(config_loader=loader)
    cli = [o for o in overrides if o not in ("-m", "--multirun")]
    parsed = parser.parse_overrides(cli)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        base = compose(config_name="config", overrides=fixed, return_hydra_config=True)
        params = base.hydra.sweeper.get("params") or {}
        swept = parser.parse_overrides([f"{k}={v}" for k, v in params.items()]) + parsed
        kept = {o.get_key_element(): o for o in swept if o.key_or_group != "shard.index"}
        choices = [
            [f"{k}={v}" for v in o.sweep_string_iterator()]
            if o.is_sweep_override()
            else [o.input_line]  # as the user typed it, for the rerun command
            for k, o in kept.items()  # later wins, as in Hydra's basic sweeper
        ]
        jobs = [list(j) for j in itertools.product(*choices)]
        return [compose(config_name="config", overrides=j, return_hydra_config=True) for j in jobs]


# -- checking and merging --------------------------------------------------------------
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


def check(plan: RunPlan, *, progress: bool = False) -> MergeReport:
    """Validate a run's chunks without writing anything (``report.path`` stays None)."""
    report = MergeReport(plan.name, plan.rows[1] - plan.rows[0])
    rows = _collect(plan, plan.store(), report, progress)
    report.rows = len(rows)
    return report


def merge(plan: RunPlan, *, progress: bool = True) -> MergeReport:
    """Validate the run's chunks; if none is missing, write the merged rows and metrics.

    Rows are ordered by dataset row; the output is written atomically, and merging again
    rewrites the same content. Metrics are logged to wandb when tracking is on.
    """
    from ttscale.evaluate import row_metrics
    from ttscale.metrics import aggregate, coverage

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
        row_metrics(r, draws=run.metrics.draws, subset_mode=run.metrics.subset_mode) for r in rows
    ]
    report.metrics = aggregate(per_problem, missing="partial")
    ident = identity(run, plan.options)
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
    from ttscale.tracking import Tracker

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
    from ttscale.config import compose
    from ttscale.pipeline import main

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
