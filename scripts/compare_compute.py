#!/usr/bin/env python
"""Scorers, DeepConf and adaptive budgets on the toy test split: accuracy against compute.

Runs each configuration below through run.py's pipeline (the sweep machinery's shards, so an
interrupted run resumes and two processes can share the work) and prints docs/compute.md's
table: per configuration, the accuracy of its own answer and of the votes its rows allow,
generated tokens, samples and FLOPs (policy + PRM, 2 x parameters x computed tokens) per
problem.

    python scripts/compare_compute.py                          # 500 problems, n = 16
    python scripts/compare_compute.py --problems 20            # a quick look
    python scripts/compare_compute.py --worker 0 --workers 2   # two processes share shards
    python scripts/compare_compute.py --report-only            # the table from what is done
"""

from __future__ import annotations

import argparse
import math
import time

from ttscale.paths import ROOT
from ttscale.sweep import plan_runs, read, run_shards_locally, shards_for
from ttscale.sweep.hydra import compose_sweep

# label -> run.py overrides. The confidence scorers' windows fit the toy world's ~100-token
# traces (the paper's 2048 would make every measure the trace's mean).
DEEPCONF = ["scorer=deepconf", "scorer.window=16", "scorer.keep=0.1"]
CONFIGS: dict[str, list[str]] = {
    "majority": ["approach=majority", "prm=none"],
    "best-of-N, toy PRM": ["approach=best_of_n"],
    "best-of-N, mean_logprob": ["approach=best_of_n", "scorer=mean_logprob"],
    "best-of-N, self_certainty": ["approach=best_of_n", "scorer=self_certainty"],
    "DeepConf offline (majority, lowest group, keep 10%)": ["approach=majority", *DEEPCONF],
    "beam search, toy PRM": ["approach=beam_search"],
    "beam search, mean_logprob": ["approach=beam_search", "scorer=mean_logprob", "prm=none"],
    "DeepConf online (warm-up 8, keep 90%)": [
        "approach=deepconf_online", "prm=none", "approach.window=16", "approach.warmup=8",
        "approach.keep=0.9", "approach.batch=4",
    ],
    "ESC (window 4)": ["approach=adaptive_majority", "prm=none"],
    "Adaptive-Consistency (Beta, 0.95)": [
        "approach=adaptive_majority", "approach.rule=beta", "prm=none",
    ],
    "compute-optimal allocator (probe 4)": ["approach=compute_optimal", "prm=none"],
    # half the budget: what the allocator keeps of majority's accuracy at 8 per problem
    "compute-optimal allocator (probe 4), n=8": ["approach=compute_optimal", "prm=none", "n=8"],
    "majority, n=8": ["approach=majority", "prm=none", "n=8"],
}  # fmt: skip


def overrides(args, config: list[str]) -> list[str]:
    return [
        f"storage.results_dir={args.results_dir}",
        "progress=false",
        "tracking=none",
        f"n={args.n}",
        "dataset.num_samples=null",
        f"dataset.end={args.problems}",
        f"shard.count={-(-args.problems // args.chunk)}",
        "grading.workers=1",
        f"threads={args.threads}",
        *config,
    ]


def plan(args, config: list[str]):
    (only,) = plan_runs(compose_sweep(overrides(args, config)))
    return only


def _mean(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def table(args) -> str:
    from ttscale.run.evaluate import row_metrics

    out = [
        "| configuration | n | problems | accuracy | maj@n | naive@n | weighted@n | filtered@n "
        "| samples | tokens | FLOPs (policy + PRM) |",
        "|" + "---|" * 11,
    ]
    for label, config in CONFIGS.items():
        run = plan(args, config)
        rows, report = read(run)
        done = report.missing[0][0] if report.missing else args.problems
        rows = [rows[i] for i in range(done)]
        if not rows:
            continue
        per = [row_metrics(r, keep=run.cfg.vote_keep) for r in rows]

        def cell(key: str, per=per) -> str:
            vals = [m[key] for m in per if key in m]
            return f"{100 * _mean(vals):.1f}" if len(vals) == len(per) else "-"

        n = run.cfg.n
        out.append(
            f"| {label} | {n} | {len(rows)} | {100 * _mean([r['is_correct'] for r in rows]):.1f} | "
            f"{cell(f'maj@{n}')} | {cell(f'naive@{n}')} | {cell(f'weighted@{n}')} | "
            f"{cell(f'filtered@{n}')} | {_mean([len(r['completions']) for r in rows]):.1f} | "
            f"{_mean([r['generated_tokens'] for r in rows]):.0f} | "
            f"{_mean([r.get('flops') for r in rows]):.3g} |"
        )
    return "\n".join(out)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=500, help="first rows of the toy test split")
    ap.add_argument("--n", type=int, default=16, help="the budget n of every configuration")
    ap.add_argument("--chunk", type=int, default=25, help="rows per shard (the resume unit)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--worker", type=int, default=0, help="this process runs shards i %% workers")
    ap.add_argument("--workers", type=int, default=1, help="processes sharing the shards")
    ap.add_argument("--report-only", action="store_true", help="print the table, run nothing")
    ap.add_argument("--only", nargs="+", default=None, help="labels (substrings) to run")
    ap.add_argument("--results-dir", default=str(ROOT / "results" / "compare_compute"))
    args = ap.parse_args()
    if not 0 <= args.worker < args.workers:
        ap.error("need 0 <= --worker < --workers")
    return args


def main() -> None:
    args = parse_args()
    if not args.report_only:
        started = time.perf_counter()
        for label, config in CONFIGS.items():
            if args.only and not any(o in label for o in args.only):
                continue
            run = plan(args, config)
            todo = [
                i for i in shards_for(run, read(run)[1].missing) if i % args.workers == args.worker
            ]
            for i in todo:
                print(f"-- {label}: rows {run.chunks[i]}", flush=True)
                run_shards_locally(run, [i])
            print(f"== {label} done at {time.perf_counter() - started:.0f} s", flush=True)
    print(table(args))


if __name__ == "__main__":
    main()
