"""Metrics for multi-temperature runs, computed from output rows.

A row is what :func:`ttscale.run.evaluate.evaluate` writes (or the parquet file holds): it needs
``temperatures``, ``correct`` and ``answer_labels`` per completion; the early-exit summary
also reads ``counters`` (a JSON string or a dict) from ``approach=two_stage_voting``.

* :func:`per_temperature`: pass@k, maj@k and avg@N of each temperature's own samples.
* :func:`pooled_vs_single`: the paper's "temperature scaling" comparison: K samples spread
  evenly over the temperatures vs K samples at the best single temperature (chosen after the
  fact, which favours the single temperature).
* :func:`early_exit_summary`: accuracy and tokens of two-stage voting with early exit, vs the
  full budget (estimated, or measured by a run with ``approach.early_exit=false``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ttscale.metrics import aggregate, pass_at_k, powers_of_two, problem_metrics

Row = Mapping[str, Any]


def _by_temperature(row: Row) -> dict[float, list[int]]:
    groups: dict[float, list[int]] = {}
    for j, t in enumerate(row["temperatures"]):
        groups.setdefault(float(t), []).append(j)
    return groups


def per_temperature(
    rows: Sequence[Row], *, draws: int = 100, seed: int = 0
) -> dict[float, dict[str, float]]:
    """pass@k, maj@k and avg@N of each temperature's samples, averaged over problems.

    ``avg@N`` is reported as ``avg`` (N may differ between temperatures) with the mean number
    of samples as ``samples``; k runs over the powers of two every problem reaches.
    """
    per: dict[float, list[dict[str, float]]] = {}
    for i, row in enumerate(rows):
        for t, idx in _by_temperature(row).items():
            labels = [row["answer_labels"][j] for j in idx]
            correct = [bool(row["correct"][j]) for j in idx]
            m = problem_metrics(
                labels,
                correct,
                None,
                draws=draws,
                seed=seed,
                key=str(row.get("unique_id", i)),
                methods=("maj",),
            )
            m = {k: v for k, v in m.items() if not k.startswith("avg@")}
            m["avg"] = sum(correct) / len(correct)
            m["samples"] = float(len(correct))
            per.setdefault(t, []).append(m)
    return {t: aggregate(ms, missing="drop") for t, ms in sorted(per.items())}


def _miss(n: int, c: int, m: int) -> float:
    """P(no correct sample among m drawn without replacement from n with c correct)."""
    return 1.0 if m == 0 else 1.0 - pass_at_k(n, c, m)


def pooled_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k of k samples spread evenly over temperatures, from (N_t, c_t) per temperature.

    Each temperature gets ``k // T`` samples; the ``k % T`` extra ones go to a uniformly random
    set of temperatures, and the expectation over that choice is exact (a subset-product DP).
    """
    T = len(counts)
    base, extra = divmod(k, T)
    if any(base + (extra > 0) > n for n, _ in counts):
        raise ValueError(
            f"k={k} needs {base + (extra > 0)} samples per temperature; "
            f"some temperature has only {min(n for n, _ in counts)}"
        )
    # dp[j]: sum over sets S of j temperatures (among those seen) of prod of miss probabilities
    # with one extra sample for t in S.
    dp = [1.0] + [0.0] * extra
    for n, c in counts:
        lo, hi = _miss(n, c, base), _miss(n, c, base + 1) if extra else 0.0
        for j in range(min(extra, T), 0, -1):
            dp[j] = dp[j] * lo + dp[j - 1] * hi
        dp[0] *= lo
    return 1.0 - dp[extra] / math.comb(T, extra)


def pooled_vs_single(rows: Sequence[Row], ks: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """At each total k: pooled multi-temperature pass@k vs every single temperature's.

    Only k up to the smallest per-temperature sample count are comparable (the single
    temperature needs k samples of its own). Returns one dict per k with ``pooled``,
    ``best_single``, ``best_temperature`` and ``single`` (temperature -> pass@k).
    """
    groups = [_by_temperature(r) for r in rows]
    temps = sorted(set().union(*groups))
    if any(set(g) != set(temps) for g in groups):
        raise ValueError("every problem must have samples at the same temperatures")
    counts = [
        [(len(g[t]), sum(bool(r["correct"][j]) for j in g[t])) for t in temps]
        for r, g in zip(rows, groups)
    ]
    k_max = min(n for cs in counts for n, _ in cs)
    ks = powers_of_two(k_max) if ks is None else list(ks)
    out = []
    for k in ks:
        if k > k_max:
            raise ValueError(f"k={k} exceeds the {k_max} samples of the smallest temperature")
        single = {
            t: sum(pass_at_k(cs[i][0], cs[i][1], k) for cs in counts) / len(counts)
            for i, t in enumerate(temps)
        }
        best = max(temps, key=lambda t: single[t])
        pooled = sum(pooled_pass_at_k(cs, k) for cs in counts) / len(counts)
        out.append(
            {
                "k": k,
                "pooled": pooled,
                "best_single": single[best],
                "best_temperature": best,
                "single": single,
            }
        )
    return out


def counters(row: Row) -> dict[str, int]:
    """A row's ``counters`` column as a dict (stored as JSON text in parquet)."""
    c = row.get("counters") or {}
    return json.loads(c) if isinstance(c, str) else dict(c)


def _vote_correct(row: Row) -> bool:
    j = counters(row).get("vote_index", -1)
    return j >= 0 and bool(row["correct"][j])


def early_exit_summary(
    rows: Sequence[Row], full_rows: Sequence[Row] | None = None
) -> dict[str, float]:
    """Accuracy and cost of two-stage voting with early exit vs the full budget.

    Args:
        rows: rows of an ``approach=two_stage_voting`` run.
        full_rows: optionally, the same problems run with ``approach.early_exit=false``; then
            the full budget's accuracy and tokens are measured instead of estimated.

    Returns:
        ``accuracy``, ``exit_rate``, ``mean_exit_round`` (over exits), ``samples_used``,
        ``budget_samples``, ``tokens_used``, ``tokens_full_budget`` (means per problem) and
        ``tokens_saved`` (1 - total used / total full); with ``full_rows`` also
        ``full_accuracy``, ``full_tokens`` and ``agreement`` (same answer as the full run).
    """
    if not rows:
        raise ValueError("early_exit_summary needs at least one row")
    cs = [counters(r) for r in rows]
    exits = [c["exit_round"] for c in cs if c["exit_round"] >= 0]
    used = sum(c["tokens_used"] for c in cs)
    n = len(rows)
    out = {
        "accuracy": sum(map(_vote_correct, rows)) / n,
        "exit_rate": len(exits) / n,
        "mean_exit_round": sum(exits) / len(exits) if exits else math.nan,
        "samples_used": sum(c["samples_used"] for c in cs) / n,
        "budget_samples": sum(c["budget_samples"] for c in cs) / n,
        "tokens_used": used / n,
    }
    full = sum(c["tokens_full_budget"] for c in cs)
    if full_rows is not None:
        by_id = {r["unique_id"]: r for r in full_rows}
        missing = [r["unique_id"] for r in rows if r["unique_id"] not in by_id]
        if missing:
            raise ValueError(f"full_rows lack {len(missing)} problems, e.g. {missing[0]!r}")
        pairs = [(r, by_id[r["unique_id"]]) for r in rows]
        full = sum(counters(f)["tokens_used"] for _, f in pairs)
        out["full_accuracy"] = sum(_vote_correct(f) for _, f in pairs) / n
        out["agreement"] = sum(_answer(r) == _answer(f) for r, f in pairs) / n
    out["tokens_full_budget"] = full / n
    out["tokens_saved"] = 1.0 - used / full if full else 0.0
    return out


def _answer(row: Row) -> str | None:
    from ttscale.grading import normalize_answer

    j = counters(row).get("vote_index", -1)
    return normalize_answer(row["answers"][j]) if j >= 0 else None
