#!/usr/bin/env python
"""Measure the toy world's quality targets on the 500-problem test split, through run.py's pipeline.

    python scripts/eval_toy_models.py                 # all 500 problems (about 10 min on 2 cores)
    python scripts/eval_toy_models.py --problems 100

Targets: greedy accuracy in [25%, 75%]; maj@16 >= greedy + 5 points; the PRM ranks a
problem's samples at within-problem AUC >= 0.80; best-of-N by the PRM (naive@16) >= maj@16;
PRM-weighted@16 >= maj@16 + 3 points. ``--prm`` evaluates another PRM config (e.g.
``--prm oracle``, or ``--prm token-classification prm.path=...``). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile

import pyarrow.parquet as pq

from ttscale.metrics.prm import within_problem_auc
from ttscale.run.pipeline import main
from ttscale.sweep.hydra import compose


def run(out: str, *overrides: str):
    summary = main(compose(f"storage.results_dir={out}", *overrides))
    return summary["metrics"], pq.read_table(summary["path"]).to_pylist()


def main_cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--prm", nargs="+", default=["toy"], help="prm preset, then prm.* overrides")
    args = ap.parse_args()
    prm = [f"prm={args.prm[0]}", *args.prm[1:]]
    with tempfile.TemporaryDirectory() as out:
        common = [f"dataset.num_samples={args.problems}"]
        greedy, _ = run(out, "approach=majority", "prm=none", "n=1", "temperature=0", *common)
        m, rows = run(
            out,
            "approach=best_of_n",
            f"n={args.n}",
            f"temperature={args.temperature}",
            *prm,
            *common,
        )
    n = args.n
    g, maj, wtd, naive = greedy["maj@1"], m[f"maj@{n}"], m[f"weighted@{n}"], m[f"naive@{n}"]
    a, k = within_problem_auc([(r["agg_scores"], r["correct"]) for r in rows])
    print(
        f"\n| measure ({args.problems} test problems, T={args.temperature}) | value | target | met |"
    )
    print("|---|---|---|---|")
    print(f"| greedy accuracy | {g:.1%} | 25%-75% | {'yes' if 0.25 <= g <= 0.75 else 'no'} |")
    print(f"| pass@1 (avg@{n}) | {m[f'avg@{n}']:.1%} | | |")
    print(f"| maj@{n} | {maj:.1%} | >= greedy + 5 pts | {'yes' if maj >= g + 0.05 else 'no'} |")
    print(
        f"| PRM within-problem AUC ({k} problems with both outcomes) | {a:.3f} | >= 0.80 | "
        f"{'yes' if a >= 0.80 else 'no'} |"
    )
    print(
        f"| PRM naive@{n} (best-of-N) | {naive:.1%} | >= maj@{n} | {'yes' if naive >= maj else 'no'} |"
    )
    print(
        f"| PRM-weighted@{n} | {wtd:.1%} | >= maj@{n} + 3 pts | "
        f"{'yes' if wtd >= maj + 0.03 else 'no'} |"
    )
    print(f"| pass@{n} | {m[f'pass@{n}']:.1%} | | |")


if __name__ == "__main__":
    main_cli()
