#!/usr/bin/env python
"""Compare search approaches on the toy test split; print the README's markdown table.

Runs best_of_n, majority, beam_search, dvts, collective_backtrack and independent_backtrack
through the pipeline at each n, with their default options, and reports per approach and n:
the accuracy of its answer, weighted and majority votes over its completions, pass@N, and the
compute it spent (generated tokens and PRM tokens per problem). Backtracking collects
num_finished = n branches; collective backtracking's widths (keeping, passing minimum, total
branches; tt_scale's 3, 3, 9 at N=4) scale with n / 4.

    python scripts/compare_approaches.py                         # 500 problems, n = 4 and 16
    python scripts/compare_approaches.py --problems 20 --ns 4    # a quick look
    python scripts/compare_approaches.py --prm oracle            # search with an exact PRM

The toy split's rows cycle through the five levels, so any ``--problems`` prefix is balanced
across difficulty.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ttscale.config import compose

APPROACHES = (
    "best_of_n",
    "majority",
    "beam_search",
    "dvts",
    "collective_backtrack",
    "independent_backtrack",
)


def approach_overrides(approach: str, n: int) -> list[str]:
    """Options that make an approach spend its budget n (beyond its own defaults)."""
    if approach == "collective_backtrack":
        scale = max(1, n // 4)
        return [
            f"approach.keeping_branches={3 * scale}",
            f"approach.passing_minimum={3 * scale}",
            f"approach.max_total_branches={9 * scale}",
        ]
    return []


def run(args, approach: str, n: int) -> tuple[list[dict[str, Any]], float]:
    """One pipeline run; returns its rows and its search time."""
    from ttscale.pipeline import main

    overrides = [
        f"storage.results_dir={args.results_dir}",
        "progress=false",
        "tracking=none",
        f"approach={approach}",
        f"n={n}",
        f"dataset.num_samples={args.problems}",
        f"seed={args.seed}",
        f"max_tokens={args.max_tokens}",
        f"grading.workers={args.workers}",
        *approach_overrides(approach, n),
    ]
    if args.policy:
        overrides.append(f"model.path={args.policy}")
    if args.prm == "oracle":
        overrides.append("prm=oracle")
    elif args.prm:
        overrides.append(f"prm.path={args.prm}")
    print(f"-- {approach} n={n}", flush=True)
    summary = main(compose(*overrides))
    return pq.read_table(Path(summary["path"])).to_pylist(), summary.get("search_seconds", 0.0)


def _vote(row: dict[str, Any], weighted: bool) -> bool:
    """Majority (or PRM-weighted) vote over all of a row's completions; ties: first seen."""
    tally: Counter[int] = Counter()
    for label, score in zip(row["answer_labels"], row["agg_scores"]):
        if label >= 0:  # a completion without steps has a NaN score: it weighs nothing
            tally[label] += (score if score == score else 0.0) if weighted else 1
    if not tally:
        return False
    winner = max(tally, key=lambda lbl: tally[lbl])
    return any(c for lbl, c in zip(row["answer_labels"], row["correct"]) if lbl == winner)


def table_row(approach: str, n: int, rows: list[dict[str, Any]], seconds: float) -> str:
    k = len(rows)

    def mean(f) -> float:
        return sum(f(r) for r in rows) / k

    scored = approach != "majority"
    cells = [
        approach,
        str(n),
        f"{100 * mean(lambda r: r['is_correct']):.1f}",
        f"{100 * mean(lambda r: _vote(r, True)):.1f}" if scored else "-",
        f"{100 * mean(lambda r: _vote(r, False)):.1f}",
        f"{100 * mean(lambda r: any(r['correct'])):.1f}",
        f"{mean(lambda r: len(r['completions'])):.1f}",
        f"{mean(lambda r: r['generated_tokens']):.0f}",
        f"{mean(lambda r: r['prm_tokens']):.0f}",
        f"{seconds:.0f}",
    ]
    return "| " + " | ".join(cells) + " |"


def level_row(approach: str, n: int, rows: list[dict[str, Any]]) -> str:
    """Accuracy of the approach's answer per difficulty level."""
    cells = [approach, str(n)]
    for level in range(1, 6):
        hits = [r["is_correct"] for r in rows if r["level"] == level]
        cells.append(f"{100 * sum(hits) / len(hits):.1f}" if hits else "-")
    return "| " + " | ".join(cells) + " |"


HEAD = (
    "| approach | n | accuracy | weighted | majority | pass@N | completions | "
    "tokens/problem | PRM tokens/problem | search s |\n|" + "---|" * 10
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=500, help="first rows of the toy test split")
    ap.add_argument("--ns", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--approaches", nargs="+", default=list(APPROACHES), choices=APPROACHES)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="grading worker processes")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--policy", default=None, help="policy folder (default: models/toy-policy)")
    ap.add_argument("--prm", default=None, help="PRM folder, or 'oracle' (default: models/toy-prm)")
    ap.add_argument("--results-dir", default=None, help="default: a temporary folder")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)  # more threads than free cores thrash under OpenMP
    tmp = None
    if args.results_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="compare_approaches-")
        args.results_dir = tmp.name
    started = time.perf_counter()
    lines, levels = [], []
    for n in args.ns:
        for approach in args.approaches:
            rows, seconds = run(args, approach, n)
            lines.append(table_row(approach, n, rows, seconds))
            levels.append(level_row(approach, n, rows))
    print(
        f"\n## Approaches on the toy test split ({args.problems} problems, "
        f"seed {args.seed}, "
        f"max_tokens {args.max_tokens}, PRM: {args.prm or 'models/toy-prm'})\n"
    )
    print(HEAD)
    print("\n".join(lines))
    print("\n| approach | n | L1 | L2 | L3 | L4 | L5 |\n|" + "---|" * 7)
    print("\n".join(levels))
    print(
        f"\naccuracy: the approach's own answer (highest aggregated PRM score; majority "
        f"voting for majority). weighted / majority: votes over all its completions. "
        f"Total time {time.perf_counter() - started:.0f} s."
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
