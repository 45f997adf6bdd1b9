"""Metrics of one run (overall, per level, per temperature) and of a seed group.

Every number comes from :mod:`ttscale.metrics` (``problem_metrics``, ``aggregate``) and
:mod:`ttscale.metrics.temperature`; this module only slices problems and summarises seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ttscale.analysis.discover import Run
from ttscale.analysis.load import Problem
from ttscale.metrics import aggregate, problem_metrics
from ttscale.metrics.temperature import early_exit_summary, per_temperature, pooled_vs_single

__all__ = [
    "LEVEL_BINS",
    "GroupMetrics",
    "RunMetrics",
    "bootstrap_ci",
    "group_seeds",
    "level_of_rate",
    "per_problem",
    "run_metrics",
]

# Half-open difficulty bins on a baseline solve rate (the anchor's overlap at the bounds is a
# bug): L1 [0.8, 1], L2 [0.6, 0.8), L3 [0.4, 0.6), L4 [0.2, 0.4), L5 [0, 0.2).
LEVEL_BINS: tuple[tuple[int, float, float], ...] = (
    (1, 0.8, 1.0),
    (2, 0.6, 0.8),
    (3, 0.4, 0.6),
    (4, 0.2, 0.4),
    (5, 0.0, 0.2),
)


def level_of_rate(rate: float) -> int:
    """Difficulty level (1 easiest) of a baseline solve rate in [0, 1]."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"solve rate must be in [0, 1], got {rate}")
    return next(level for level, lo, _ in LEVEL_BINS if rate >= lo)


def per_problem(
    problems: Sequence[Problem],
    *,
    seed: int,
    mode: str = "random",
    draws: int = 100,
    keep: float | None = None,
) -> list[dict[str, float]]:
    """``problem_metrics`` of each problem (naive/weighted only where scores exist;
    ``filtered``, DeepConf's vote of the top ``keep`` share, where a confidence scorer ran)."""
    out = []
    for p in problems:
        methods: tuple[str, ...] = ("maj",)
        if p.scores is not None:
            methods = ("naive", "weighted", "maj") + (("filtered",) if keep else ())
        m = problem_metrics(
            p.labels,
            p.correct,
            p.scores,
            draws=draws,
            seed=seed,
            key=p.key,
            mode=mode,  # type: ignore[arg-type]
            methods=methods,
            keep=keep or 1.0,
        )
        # Each problem's own full set, whatever its size: the one number that runs whose
        # problems end with different N (backtracking, early exit) can be compared on.
        size = len(p.labels)
        for k in (*methods, "pass"):
            if f"{k}@{size}" in m:
                m[f"{k}@all"] = m[f"{k}@{size}"]
        m["tokens"] = p.tokens
        m["prm_tokens"] = p.prm_tokens
        m["flops"] = p.flops
        out.append(m)
    return out


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem values (problems resampled)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


@dataclass
class RunMetrics:
    """Metrics of one run.

    Attributes:
        run: The run.
        problems: Number of problems.
        n: Completions per problem (the largest N).
        overall: Mean of each metric over problems (``maj@n``, ``pass@n``, ``avg@N``, tokens...).
        ci: Bootstrap 95% CI of each accuracy metric, ``{key: (lo, hi)}``.
        by_level: ``{level: metrics}`` for the dataset's levels (empty without levels).
        by_temperature: ``{T: metrics}`` of each temperature's own samples (several only).
        pooled: pooled multi-temperature pass@k against each single temperature's, per k
            (:func:`ttscale.metrics.temperature.pooled_vs_single`; several temperatures only).
        early_exit: two-stage voting's accuracy, exit rate and tokens against its full budget
            (:func:`ttscale.metrics.temperature.early_exit_summary`; such runs only).
        solve_rate: ``{problem key: avg@N}`` (for baseline difficulty levels).
        rows: The per-problem metrics, for re-slicing.
        levels: Dataset level per problem (None where absent).
        keys: Problem key per row of ``rows``.
    """

    run: Run
    problems: int
    n: int
    overall: dict[str, float]
    ci: dict[str, tuple[float, float]]
    by_level: dict[int, dict[str, float]] = field(default_factory=dict)
    by_temperature: dict[float, dict[str, float]] = field(default_factory=dict)
    pooled: list[dict] = field(default_factory=list)
    early_exit: dict[str, float] = field(default_factory=dict)
    solve_rate: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, float]] = field(default_factory=list)
    levels: list[int | None] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def sliced(self, level_of: Callable[[int], int | None]) -> dict[int, dict[str, float]]:
        """Metrics per level, with levels given by ``level_of(problem position)``."""
        groups: dict[int, list[dict[str, float]]] = {}
        for i, row in enumerate(self.rows):
            level = level_of(i)
            if level is not None:
                groups.setdefault(level, []).append(row)
        return {k: aggregate(v, missing="drop") for k, v in sorted(groups.items())}


def _temperature_rows(problems: Sequence[Problem]) -> list[dict[str, object]]:
    return [
        {"temperatures": p.temperatures, "correct": p.correct, "answer_labels": p.labels,
         "unique_id": p.key}
        for p in problems
    ]  # fmt: skip


def run_metrics(
    run: Run,
    problems: Sequence[Problem],
    *,
    mode: str = "random",
    draws: int = 100,
    resamples: int = 1000,
) -> RunMetrics:
    """All metrics of one run; random subsets seeded by the run's seed (prefix: ``mode``)."""
    seed = run.name.seed or 0
    rows = per_problem(problems, seed=seed, mode=mode, draws=draws, keep=run.keep)
    overall = aggregate(rows, missing="drop")
    ci = {
        k: bootstrap_ci([r[k] for r in rows], resamples=resamples, seed=seed)
        for k in overall
        if "@" in k
    }
    levels = [p.level for p in problems]
    metrics = RunMetrics(
        run=run,
        problems=len(problems),
        n=max(len(p.labels) for p in problems),
        overall=overall,
        ci=ci,
        rows=rows,
        levels=levels,
        keys=[p.key for p in problems],
        solve_rate={p.key: sum(p.correct) / len(p.correct) for p in problems},
    )
    if any(level is not None for level in levels):
        metrics.by_level = metrics.sliced(lambda i: levels[i])
    temps = {t for p in problems if p.temperatures for t in p.temperatures}
    if len(temps) > 1 and all(p.temperatures for p in problems):
        metrics.by_temperature = per_temperature(_temperature_rows(problems), seed=seed)
        try:
            metrics.pooled = pooled_vs_single(_temperature_rows(problems))
        except ValueError:  # problems sampled at different temperatures (temps=early)
            metrics.pooled = []
    if all("exit_round" in p.counters for p in problems):  # two-stage voting's rows
        voted = [{"unique_id": p.key, "correct": p.correct, "counters": p.counters}
                 for p in problems]  # fmt: skip
        metrics.early_exit = early_exit_summary(voted)
    return metrics


@dataclass
class GroupMetrics:
    """Runs equal but for the seed: mean and std (``ddof=0``) of each metric across seeds."""

    model: str
    approach: str
    name: str
    runs: list[RunMetrics]
    mean: dict[str, float]
    std: dict[str, float]

    def ci(self, key: str, resamples: int = 1000) -> tuple[float, float]:
        """Bootstrap 95% CI of ``key``: problems resampled, each problem's value seed-averaged."""
        per: dict[str, list[float]] = {}
        for m in self.runs:
            for k, row in zip(m.keys, m.rows):
                if key in row:
                    per.setdefault(k, []).append(row[key])
        return bootstrap_ci([sum(v) / len(v) for v in per.values()], resamples=resamples)

    def by_levels(self, level_of: Mapping[str, int] | None = None) -> dict[int, dict[str, float]]:
        """Metrics per level, mean over seeds; dataset levels, or ``level_of[problem key]``."""
        per_seed = []
        for m in self.runs:
            if level_of is None:
                per_seed.append(m.by_level)
            else:
                per_seed.append(m.sliced(lambda i, m=m: level_of.get(m.keys[i])))
        levels = sorted({lv for d in per_seed for lv in d})
        return {lv: _mean_std([d[lv] for d in per_seed if lv in d])[0] for lv in levels}

    def by_temperature(self) -> dict[float, dict[str, float]]:
        """Each temperature's own-sample metrics in a multi-temperature run, mean over seeds."""
        temps = sorted({t for m in self.runs for t in m.by_temperature})
        return {
            t: _mean_std([m.by_temperature[t] for m in self.runs if t in m.by_temperature])[0]
            for t in temps
        }

    def level_mean(self, level: int, key: str) -> float:
        """``key`` at a dataset level, mean over seeds (NaN when absent)."""
        return self.by_levels().get(level, {}).get(key, math.nan)

    @property
    def first(self) -> RunMetrics:
        """The first seed's metrics (for fields shared by all seeds)."""
        return self.runs[0]

    @property
    def label(self) -> str:
        """A legend label: approach, temperature part, n."""
        n = self.first.run.name
        return f"{self.approach} {n.temperature_label} n={n.n or self.first.n}"


def _mean_std(dicts: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    keys = [k for k in dicts[0] if all(k in d for d in dicts)]
    arr = {k: np.array([d[k] for d in dicts], dtype=float) for k in keys}
    return {k: float(v.mean()) for k, v in arr.items()}, {k: float(v.std()) for k, v in arr.items()}


def group_seeds(metrics: Sequence[RunMetrics]) -> list[GroupMetrics]:
    """Group runs by (model, approach, name without seed, variant); mean +/- std across seeds."""
    groups: dict[tuple[str, str, str, str], list[RunMetrics]] = {}
    for m in metrics:
        r = m.run
        # The variant (identity without the seed) keeps apart runs whose names agree but
        # whose settings differ (max_tokens, a prompt, PRM noise, ...).
        key = (r.model, r.approach, r.name.without_seed, r.variant or "")
        groups.setdefault(key, []).append(m)
    out = []
    for (model, approach, name, _), runs in sorted(groups.items()):
        runs.sort(key=lambda m: m.run.name.seed or 0)
        mean, std = _mean_std([m.overall for m in runs])
        out.append(GroupMetrics(model, approach, name, runs, mean, std))
    return out
