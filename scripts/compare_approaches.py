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
    python scripts/compare_approaches.py --prm oracle            # an exact PRM (own folder)
    python scripts/compare_approaches.py --worker 0 --workers 2  # two processes share chunks
    python scripts/compare_approaches.py --report-only           # the table from what is done
    python scripts/compare_approaches.py --set model.device=cuda --results-dir results/gpu

Work runs every row at the smallest n first, then the next n; within an n, best_of_n,
majority, beam_search and dvts go over every row before the backtracking searches (3-5x their
tokens), chunk by chunk (``--chunk`` problems). Each chunk is a results file that a rerun
skips (rows that files of another ``--chunk`` cover together are not redone), so an
interrupted run resumes. The table covers, per approach and n, the longest prefix of rows
done, and says how many; the toy split's rows cycle through the five levels, so any prefix
of a multiple of 5 rows is balanced across difficulty.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ttscale.paths import ROOT
from ttscale.sweep import RunPlan, check, plan_runs, read, run_shards_locally, shards_for
from ttscale.sweep.hydra import compose_sweep

APPROACHES = (
    "best_of_n",
    "majority",
    "beam_search",
    "dvts",
    "collective_backtrack",
    "independent_backtrack",
)


# The order runs go in: backtracking costs 3-5x the tokens of the others.
TIERS = (APPROACHES[:4], APPROACHES[4:])


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


def overrides(args, approach: str, n: int) -> list[str]:
    """The run.py overrides of (approach, n): the first --problems rows in --chunk shards."""
    out = [
        f"storage.results_dir={args.results_dir}",
        "progress=false",
        "tracking=none",
        f"approach={approach}",
        f"n={n}",
        "dataset.num_samples=null",
        f"dataset.end={args.problems}",
        f"shard.count={-(-args.problems // args.chunk)}",
        f"seed={args.seed}",
        f"max_tokens={args.max_tokens}",
        f"grading.workers={args.grading_workers}",
        f"threads={args.threads}",  # the pipeline would otherwise take every free core
        *approach_overrides(approach, n),
        *args.set,
    ]
    if args.policy:
        out.append(f"model.path={args.policy}")
    if args.prm == "oracle":
        out.append("prm=oracle")
    elif args.prm:
        out.append(f"prm.path={args.prm}")
    return out


def plan(args, approach: str, n: int) -> RunPlan:
    """The run of (approach, n), as a sweep plans it: its shards are the resume unit."""
    (only,) = plan_runs(compose_sweep(overrides(args, approach, n)))
    return only


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


def table_row(approach: str, n: int, rows: list[dict[str, Any]]) -> str:
    k = len(rows)

    def mean(f) -> float:
        return sum(f(r) for r in rows) / k

    scored = approach != "majority"
    cells = [
        approach,
        str(n),
        str(k),
        f"{100 * mean(lambda r: r['is_correct']):.1f}",
        f"{100 * mean(lambda r: _vote(r, True)):.1f}" if scored else "-",
        f"{100 * mean(lambda r: _vote(r, False)):.1f}",
        f"{100 * mean(lambda r: any(r['correct'])):.1f}",
        f"{mean(lambda r: len(r['completions'])):.1f}",
        f"{mean(lambda r: r['generated_tokens']):.0f}",
        f"{mean(lambda r: r['prm_tokens']):.0f}",
        f"{sum(r['search_seconds'] for r in rows):.0f}",
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
    "| approach | n | problems | accuracy | weighted | majority | pass@N | completions | "
    "tokens/problem | PRM tokens/problem | search s |\n|" + "---|" * 11
)


def collect(args) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """Rows of each (approach, n) over the longest prefix of the split it has done.

    Prefixes differ while a run is under way (cheap approaches finish first); a table row says
    how many problems it covers. Rows cycle through the levels, so each prefix of a multiple
    of 5 rows is balanced across difficulty. Chunks are read and validated as a merge reads
    them: each row counts once, whichever --chunk wrote it.
    """
    out = {}
    for n in args.ns:
        for approach in args.approaches:
            rows, report = read(plan(args, approach, n))
            done = report.missing[0][0] if report.missing else args.problems
            if done:
                out[approach, n] = [rows[i] for i in range(done)]
    return out


def report(args) -> None:
    runs = collect(args)
    if not runs:
        print("no rows are done yet")
        return
    print(
        f"\n## Approaches on the toy test split ({args.problems} problems; seed {args.seed}, "
        f"max_tokens {args.max_tokens}, PRM: {args.prm or 'models/toy-prm'})\n"
    )
    print(HEAD)
    print("\n".join(table_row(a, n, rows) for (a, n), rows in runs.items()))
    print("\n| approach | n | L1 | L2 | L3 | L4 | L5 |\n|" + "---|" * 7)
    print("\n".join(level_row(a, n, rows) for (a, n), rows in runs.items()))
    print(
        "\nproblems: the first rows of the split the run has done. accuracy: the approach's "
        "own answer (highest aggregated PRM score; majority voting for majority). weighted / "
        "majority: votes over all its completions. search s: time inside the search, summed."
    )


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=500, help="first rows of the toy test split")
    ap.add_argument("--chunk", type=int, default=10, help="rows per results file (resume unit)")
    ap.add_argument("--ns", type=int, nargs="+", default=[4, 16], help="budgets n to compare")
    ap.add_argument("--approaches", nargs="+", default=list(APPROACHES), choices=APPROACHES)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grading-workers", type=int, default=1, help="math-verify processes")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--worker", type=int, default=0, help="this process runs chunks i %% workers")
    ap.add_argument("--workers", type=int, default=1, help="processes sharing the chunks")
    ap.add_argument("--report-only", action="store_true", help="print the table, run nothing")
    ap.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="run.py overrides for every run, e.g. model.device=cuda model.dtype=float32 "
        "(run names leave devices out: give such runs their own --results-dir)",
    )
    ap.add_argument("--policy", default=None, help="policy folder (default: models/toy-policy)")
    ap.add_argument("--prm", default=None, help="PRM folder, or 'oracle' (default: models/toy-prm)")
    ap.add_argument(
        "--results-dir",
        default=None,
        help="where chunks are kept; a rerun skips the chunks already there (default: "
        "results/compare_approaches, with -POLICY and -PRM added for --policy and --prm, "
        "since run names do not say which models ran)",
    )
    args = ap.parse_args()
    if args.results_dir is None:
        tags = [Path(x).name for x in (args.policy, args.prm) if x]
        args.results_dir = str(ROOT / "results" / "-".join(["compare_approaches", *tags]))
    if args.chunk < 1 or not 0 <= args.worker < args.workers:
        ap.error("--chunk must be >= 1 and 0 <= --worker < --workers")
    return args


def main() -> None:
    args = parse_args()
    if not args.report_only:
        started = time.perf_counter()
        # Every row at the smallest n first, and within an n the cheap approaches over every
        # row before backtracking: an interrupted run still has whole rows of the table.
        for n in sorted(args.ns):
            for tier in TIERS:
                runs = {a: plan(args, a, n) for a in tier if a in args.approaches}
                # Rows done by an earlier run with another --chunk are not redone.
                left = {a: set(shards_for(r, check(r).missing)) for a, r in runs.items()}
                for i in range(-(-args.problems // args.chunk)):
                    if i % args.workers != args.worker or not any(i in s for s in left.values()):
                        continue
                    for approach, run in runs.items():
                        if i in left[approach]:
                            print(f"-- {approach} n={n} rows {run.chunks[i]}", flush=True)
                            run_shards_locally(run, [i])
                    took = time.perf_counter() - started
                    print(f"== n={n} {' '.join(runs)} shard {i} done at {took:.0f} s")
    report(args)


if __name__ == "__main__":
    main()
