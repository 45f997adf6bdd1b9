#!/usr/bin/env python
"""Compare temperature schedules on the toy test split and print markdown tables.

Every configuration draws the same total number of samples n per problem:

* single temperatures (0.2, 0.6, 1.0), hnc and the grid, with majority voting (pass@k, maj@k);
* per temperature of the grid run, and its pooled pass@k vs the best single temperature;
* two-stage voting with early exit vs the same approach without exit (the full budget).

    python scripts/compare_temperatures.py                    # first 100 problems, n=16
    python scripts/compare_temperatures.py --per-level 10     # 10 problems of each level
    python scripts/compare_temperatures.py --problems 500     # the whole toy split
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ttscale.metrics.temperature import early_exit_summary, per_temperature, pooled_vs_single
from ttscale.sweep.hydra import compose


def ranges(args) -> list[tuple[int, int]]:
    """(first row, rows) of each slice: the first rows, or the first k of every level.

    The toy split's rows cycle through the five levels, so the first 5k rows hold exactly k
    of each; that is checked against the split's own levels.
    """
    if not args.per_level:
        return [(0, args.problems)]
    from collections import Counter

    from ttscale.data import load_rows

    rows = 5 * args.per_level
    levels = Counter(r["level"] for r in load_rows("toy", None, "test", "ttscale/arith")[:rows])
    if sorted(levels.values()) != [args.per_level] * 5:
        raise SystemExit(f"error: the first {rows} rows are not {args.per_level} per level")
    return [(0, rows)]


def run(args, label: str, *overrides: str) -> tuple[dict[str, Any], list[dict], float]:
    """One configuration over every slice; returns its metrics, its rows and its wall time."""
    from ttscale.run.pipeline import main

    common = [
        f"storage.results_dir={args.results_dir}",
        "progress=false",
        "overwrite=true",
        f"n={args.n}",
        f"seed={args.seed}",
        f"max_tokens={args.max_tokens}",
        "prm=none",
        "tracking=none",
    ]
    if args.model:
        common.append(f"model.path={args.model}")
    print(f"-- {label}", flush=True)
    t0 = time.perf_counter()
    summaries, rows = [], []
    for start, count in ranges(args):
        slice_ = [f"dataset.start={start}", f"dataset.num_samples={count}"]
        summary = main(compose(*common, *slice_, *overrides))
        summaries.append(summary)
        rows += pq.read_table(Path(summary["path"])).to_pylist()
    # Every slice has the same number of problems, so the plain mean is the per-problem mean.
    keys = set.intersection(*(set(s["metrics"]) for s in summaries))
    metrics = {k: sum(s["metrics"][k] for s in summaries) / len(summaries) for k in keys}
    return {"run": summaries[0]["run"], "metrics": metrics}, rows, time.perf_counter() - t0


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def md(cells) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def header(cells) -> list[str]:
    return [md(cells), "|" + "---|" * len(cells)]


def schedule_table(args, runs: list[tuple[str, dict[str, Any]]]) -> str:
    ks = sorted({1, 4, args.n})
    majs = [k for k in ks if k > 1]
    cols = [*(f"pass@{k}" for k in ks), *(f"maj@{k}" for k in majs)]
    lines = header(["schedule", *cols, "tokens/problem"])
    for label, m in runs:
        lines.append(md([label, *(pct(m[c]) for c in cols), f"{m['tokens']:.0f}"]))
    return "\n".join(lines)


def grid_tables(rows: list[dict]) -> str:
    per = per_temperature(rows)
    ks = [k for k in (2, 4, 8, 16) if all(f"pass@{k}" in m for m in per.values())]
    cols = ["avg", *(f"pass@{k}" for k in ks), *(f"maj@{k}" for k in ks)]
    lines = header(["T", "avg@N", *cols[1:]])
    for t, m in per.items():
        lines.append(md([t, *(pct(m[c]) for c in cols)]))
    lines += ["", *header(["total k", "pooled over the grid", "best single T", "that T"])]
    for d in pooled_vs_single(rows):
        lines.append(md([d["k"], pct(d["pooled"]), pct(d["best_single"]), d["best_temperature"]]))
    return "\n".join(lines)


def voting_table(exit_rows: list[dict], full_rows: list[dict]) -> str:
    s = early_exit_summary(exit_rows, full_rows)
    rounds = "-" if math.isnan(s["mean_exit_round"]) else f"{s['mean_exit_round']:.1f}"
    used = [pct(s["accuracy"]), f"{s['samples_used']:.1f}", f"{s['tokens_used']:.0f}"]
    full = [pct(s["full_accuracy"]), f"{s['budget_samples']:.1f}"]
    lines = header(["two-stage voting", "accuracy", "samples/problem", "tokens/problem", "exits"])
    lines.append(md(["early exit", *used, pct(s["exit_rate"])]))
    lines.append(md(["full budget", *full, f"{s['tokens_full_budget']:.0f}", "-"]))
    lines += [
        "",
        f"Tokens saved: {pct(s['tokens_saved'])}%; mean exit round {rounds}; the same answer "
        f"as the full budget on {pct(s['agreement'])}% of problems.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=100, help="first rows of the toy test split")
    ap.add_argument(
        "--per-level", type=int, default=None, help="instead: the first k problems of each level"
    )
    ap.add_argument("--n", type=int, default=16, help="total samples per problem")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="policy folder (default: models/toy-policy)")
    ap.add_argument("--grid", default="0.0:1.2:0.4", help="grid for temps=grid and voting")
    ap.add_argument("--results-dir", default=None, help="default: a temporary folder")
    args = ap.parse_args()
    tmp = None
    if args.results_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="compare_temperatures-")
        args.results_dir = tmp.name
    grid = f"temperature_schedule.temperatures={args.grid}"
    started = time.perf_counter()
    runs = []
    for t in (0.2, 0.6, 1.0):
        summary, _, _ = run(args, f"T={t}", "approach=majority", "temps=single", f"temperature={t}")
        runs.append((f"single T={t}", summary["metrics"]))
    summary, _, _ = run(args, "hnc", "approach=majority", "temps=hnc")
    runs.append((f"hnc {summary['run'].split('--')[1]}", summary["metrics"]))
    summary, grid_rows, _ = run(args, "grid", "approach=majority", "temps=grid", grid)
    runs.append((f"grid {args.grid}", summary["metrics"]))
    _, exit_rows, exit_s = run(
        args, "two-stage voting", "approach=two_stage_voting", "temps=grid", grid
    )
    _, full_rows, full_s = run(
        args,
        "two-stage voting, full budget",
        "approach=two_stage_voting",
        "temps=grid",
        grid,
        "approach.early_exit=false",
    )
    where = (
        f"the first {args.per_level} problems of each level"
        if args.per_level
        else f"the first {args.problems} problems"
    )
    print(
        f"\n## Temperature schedules at equal total samples (n={args.n}; toy test split, "
        f"{where}; seed {args.seed}; majority voting)\n"
    )
    print(schedule_table(args, runs))
    print(f"\n### Per temperature of the grid run ({args.grid})\n")
    print(grid_tables(grid_rows))
    print(
        f"\n### Two-stage voting on the grid (tau_intra 0.8, tau_cross 1.0, min 2 per T), "
        f"budget n={args.n}\n"
    )
    print(voting_table(exit_rows, full_rows))
    print(
        f"\nWall time: early exit {exit_s:.0f} s vs full budget {full_s:.0f} s; "
        f"everything {time.perf_counter() - started:.0f} s."
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
