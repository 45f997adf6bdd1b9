"""A sweep's bad input, found before any task runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ttscale.config import RunConfig, ShardConfig, validate
from ttscale.data import shard_range
from ttscale.identity import differences, identity
from ttscale.storage import build_store
from ttscale.storage.naming import run_name
from ttscale.sweep.plan import SHARD_KEYS, _dataset_rows, _key


def sweep_errors(cfgs: Sequence[Any], job_overrides: Sequence[Sequence[str]]) -> list[str]:
    """The bad input of every task of a sweep, one line per distinct problem.

    Launchers call this before any task runs, so a typo in one combination stops the sweep in
    seconds instead of after the combinations before it. Each task's config is validated
    (cheap); dataset rows, model folders and PRM tokens are checked once per run (tasks that
    differ only in their shard share them).
    """
    from ttscale.config.preflight import BAD_INPUT, preflight

    errors: dict[str, None] = {}  # ordered and deduplicated: shards of one run share an error
    checked: set[str] = set()
    writers: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}  # chunk -> first task
    # Name a task by the overrides the sweep varies (n=6), not those all tasks share.
    shared = set.intersection(*(set(o) for o in job_overrides)) if job_overrides else set()
    for cfg, overrides in zip(cfgs, job_overrides):
        own = [o for o in overrides if _key(o) not in SHARD_KEYS]
        label = " ".join(o for o in own if o not in shared) or " ".join(own) or "(defaults)"
        try:
            run = validate(cfg)
            key = run.model_copy(update={"shard": ShardConfig()}).model_dump_json()
            if key not in checked:
                checked.add(key)
                _dataset_rows(run)
                preflight(run)
            clash = _same_chunk(writers, run, run_name(run), label)
            if clash:
                errors[clash] = None
        except BAD_INPUT as err:
            errors[f"{label}: {err}"] = None
    return list(errors)


def _same_chunk(
    writers: dict[Any, tuple[str, dict[str, Any]]],
    run: RunConfig,
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
    ident = identity(run)
    where = build_store(run, ident).chunk_path(name, lo + start, lo + end)
    first, seen = writers.setdefault(str(where), (label, ident))
    if first == label or seen == ident:
        return None
    return (
        f"{label}: writes the same results ({where}) as {first}, with other settings "
        f"({'; '.join(differences(seen, ident))}): give one of them another storage"
    )
