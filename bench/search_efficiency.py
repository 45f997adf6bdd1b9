#!/usr/bin/env python
"""Step search against sampling speed: best-of-N, beam search and DVTS, prefix reuse off and on.

One process, the same problems, seeds and models for every run; the ways alternate per
repeat and every run starts with empty prefix caches, so no run profits from another's.
Reported per approach and way (medians): generated tokens/s, prompt tokens prefilled per
generated token, PRM tokens computed per generated token; then the three target ratios
with reuse on. Completions must be identical with reuse off and on (checked).

    python bench/search_efficiency.py                       # 20 problems, n=16, width 4
    python bench/search_efficiency.py --problems 4 --n 4    # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPROACHES = ("best_of_n", "beam_search", "dvts")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20, help="first rows of the toy test split")
    ap.add_argument("--n", type=int, default=16, help="samples / beams per problem")
    ap.add_argument("--beam-width", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--policy", default=str(ROOT / "models" / "toy-policy"))
    ap.add_argument("--prm", default=str(ROOT / "models" / "toy-prm"))
    ap.add_argument("--cache-mb", type=int, default=1024, help="each prefix cache's cap (on)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs; medians reported")
    return ap.parse_args()


def context(args, cache_mb: int):
    """The context the pipeline builds (conf batch sizes), with both prefix caches at cache_mb."""
    from toy import toy_context

    return toy_context(args.n, policy=args.policy, prm=args.prm, max_tokens=args.max_tokens,
                       cache_mb=cache_mb)  # fmt: skip


def run(ctx, approach: str, args, problems):
    """(results, seconds) of one search from empty prefix caches."""
    from ttscale.search import APPROACHES as REGISTRY

    for cache in (ctx.generator.prefix, ctx.scorer.prm.cache):
        if cache is not None:
            cache.clear()
    cls = REGISTRY.get(approach)
    opts = {} if approach == "best_of_n" else {"beam_width": args.beam_width}
    search = cls(cls.Options(name=approach, **opts)).search
    t0 = time.perf_counter()
    results = search(problems, ctx)
    return results, time.perf_counter() - t0


def main() -> None:
    import sys

    import torch

    sys.path.insert(0, str(ROOT / "bench"))  # the sibling module toy
    from toy import toy_problems

    args = parse_args()
    torch.set_num_threads(args.threads)
    problems = toy_problems(args.problems)
    ways = {"off": context(args, 0), "on": context(args, args.cache_mb)}
    for ctx in ways.values():  # warm-up: first-call overheads hit no timing
        run(ctx, "beam_search", args, problems[:1])
    seconds: dict[tuple[str, str], list[float]] = {}
    last: dict[tuple[str, str], list] = {}
    for _ in range(args.repeats):
        for approach in APPROACHES:
            for way, ctx in ways.items():
                last[approach, way], s = run(ctx, approach, args, problems)
                seconds.setdefault((approach, way), []).append(s)
    print(f"problems={len(problems)} n={args.n} beam_width={args.beam_width} "
          f"threads={args.threads} repeats={args.repeats} (medians)")  # fmt: skip
    print(f"{'approach':12} {'reuse':5} {'seconds':>8} {'gen tok/s':>10} "
          f"{'prefill/gen':>11} {'PRM/gen':>8} {'PRM cached/gen':>14}  same completions")  # fmt: skip
    rate: dict[tuple[str, str], float] = {}
    prm_per: dict[tuple[str, str], float] = {}
    for approach in APPROACHES:
        for way in ways:
            res, s = last[approach, way], statistics.median(seconds[approach, way])
            gen = sum(r.generated_tokens for r in res)
            rate[approach, way] = gen / s
            prm_per[approach, way] = sum(r.prm_tokens for r in res) / gen
            same = all(a.completions == b.completions
                       for a, b in zip(res, last[approach, "off"]))  # fmt: skip
            print(f"{approach:12} {way:5} {s:8.2f} {gen / s:10.0f} "
                  f"{sum(r.prompt_tokens for r in res) / gen:11.3f} {prm_per[approach, way]:8.3f} "
                  f"{sum(r.prm_cached_tokens for r in res) / gen:14.3f}  {same}")  # fmt: skip
    bon = rate["best_of_n", "on"]
    print(
        f"targets, reuse on: beam search tokens/s = {rate['beam_search', 'on'] / bon:.2f}x "
        f"best-of-N's (>= 1.0); DVTS = {rate['dvts', 'on'] / bon:.2f}x (>= 0.95); "
        f"beam search PRM tokens computed per generated = {prm_per['beam_search', 'on']:.3f} "
        f"(<= 0.35)"
    )
    # Runs next to each other share the machine's state: their ratio drifts less than medians'.
    for approach in ("beam_search", "dvts"):
        per = paired(seconds, last, approach)
        print(f"{approach} / best-of-N tokens/s, reuse on, per repeat: "
              f"{', '.join(f'{x:.2f}' for x in per)} (median {statistics.median(per):.2f}x)")  # fmt: skip
    print(
        f"reuse on / off, tokens/s: beam search {rate['beam_search', 'on'] / rate['beam_search', 'off']:.2f}x, "
        f"DVTS {rate['dvts', 'on'] / rate['dvts', 'off']:.2f}x, "
        f"best-of-N {rate['best_of_n', 'on'] / rate['best_of_n', 'off']:.2f}x"
    )  # fmt: skip


def paired(seconds, last, approach: str) -> list[float]:
    """Per repeat, ``approach``'s generated tokens/s over best-of-N's, both with reuse on."""
    gen = {a: sum(r.generated_tokens for r in last[a, "on"]) for a in (approach, "best_of_n")}
    return [(gen[approach] / s) / (gen["best_of_n"] / b)
            for s, b in zip(seconds[approach, "on"], seconds["best_of_n", "on"])]  # fmt: skip


if __name__ == "__main__":
    main()
