"""A sweep's runs: each is every shard of one setting, with the row ranges of its shards.

A run's name comes from :func:`ttscale.storage.naming.run_name`, its shards' ranges from
:func:`ttscale.data.shard_range`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ttscale.config import RunConfig, ShardConfig, validate
from ttscale.data import shard_range
from ttscale.identity import fingerprint, identity, run_prefix
from ttscale.storage import Store, build_store
from ttscale.storage.naming import run_name

Range = tuple[int, int]
SHARD_KEYS = ("shard.index", "shard.count")


@dataclass
class RunPlan:
    """One run of a sweep: all shards of one hyper-parameter setting."""

    name: str  # naming.run_name(...)
    cfg: RunConfig  # of shard 0 (only shard.index differs between a run's tasks)
    chunks: list[Range]  # [start, end) of every shard, by shard index (empty ones included)
    overrides: list[str]  # the user's overrides for this run, without shard.index/count

    def store(self) -> Store:
        """The run's store, bound to its identity: other runs' chunks are refused."""
        return build_store(self.cfg)

    @property
    def label(self) -> str:
        """``{model}/{prm}/{approach}/{fingerprint}/{run name}``: unique within a sweep."""
        return f"{run_prefix(self.cfg)}/{self.name}"

    @property
    def rows(self) -> Range:
        """The dataset rows [lo, hi) the run covers."""
        return self.chunks[0][0], self.chunks[-1][1]


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


def plan_runs(cfgs: Iterable[Any]) -> list[RunPlan]:
    """Composed per-task configs (DictConfig) -> runs, grouped by store and run name.

    The user's overrides are read from ``hydra.overrides`` (present in a Hydra job's config
    and in :func:`compose_sweep`'s); configs without them give a plan with no overrides.
    """
    plans: dict[tuple[str, str, str], RunPlan] = {}
    for cfg in cfgs:
        run = validate(cfg)
        name = run_name(run)
        key = (run.storage.model_dump_json(), fingerprint(identity(run)), name)
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
        )
    return list(plans.values())


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
    return [o for o in [*hydra, *task] if _key(o) not in SHARD_KEYS]
