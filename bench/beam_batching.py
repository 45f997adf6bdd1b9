#!/usr/bin/env python
"""Beam search batched across problems vs one problem at a time (search-and-learn's way).

Both runs do the same work: the same problems, beams and seeds, so they produce the same
completions (seeds depend on problem, slot and iteration only). The figure is the wall-clock
ratio, measured in one process on the same machine:

    python bench/beam_batching.py --problems 20 --n 8 --beam-width 2
    python bench/beam_batching.py --policy /tmp/rand/policy --prm /tmp/rand/prm  # stand-ins
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20, help="first rows of the toy test split")
    ap.add_argument("--n", type=int, default=8, help="beams per problem")
    ap.add_argument("--beam-width", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--policy", default=str(ROOT / "models" / "toy-policy"))
    ap.add_argument(
        "--prm",
        default=str(ROOT / "models" / "toy-prm"),
        help="a math-shepherd-style PRM folder, or 'oracle'",
    )
    ap.add_argument("--batch-size", type=int, default=128, help="generator batch (conf: 128)")
    ap.add_argument("--prm-batch-size", type=int, default=64, help="PRM batch (conf: 64)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs; medians reported")
    return ap.parse_args()


def build(args):
    """The context the pipeline would build, and the first problems of the toy split."""
    import sys

    import torch

    sys.path.insert(0, str(ROOT / "bench"))  # the sibling module toy
    from toy import toy_context, toy_problems

    torch.set_num_threads(args.threads)
    ctx = toy_context(args.n, policy=args.policy, prm=args.prm, max_tokens=args.max_tokens,
                      batch_size=args.batch_size, prm_batch_size=args.prm_batch_size)  # fmt: skip
    return ctx, toy_problems(args.problems)


class Clock:
    """Wall time spent inside the generator and the PRM (the rest is search bookkeeping)."""

    def __init__(self, ctx) -> None:
        self.gen = self.prm = 0.0
        generate, score = ctx.generator.generate, ctx.scorer.prm.score

        def timed_generate(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return generate(*args, **kwargs)
            finally:
                self.gen += time.perf_counter() - t0

        def timed_score(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return score(*args, **kwargs)
            finally:
                self.prm += time.perf_counter() - t0

        ctx.generator.generate, ctx.scorer.prm.score = timed_generate, timed_score

    def run(self, fn) -> tuple[object, tuple[float, float, float]]:
        """fn's result and its (total, generate, PRM) seconds."""
        self.gen = self.prm = 0.0
        t0 = time.perf_counter()
        out = fn()
        return out, (time.perf_counter() - t0, self.gen, self.prm)


def main() -> None:
    from ttscale.search.beam_search import BeamSearch

    args = parse_args()
    ctx, problems = build(args)
    clock = Clock(ctx)
    search = BeamSearch(BeamSearch.Options(beam_width=args.beam_width)).search
    search(problems[:1], ctx)  # warm-up: first-call overheads hit neither timing
    batched_t, single_t = [], []
    for _ in range(args.repeats):  # alternate, so drifting machine load hits both
        batched, t = clock.run(lambda: search(problems, ctx))
        batched_t.append(t)
        single, t = clock.run(lambda: [r for p in problems for r in search([p], ctx)])
        single_t.append(t)
    same = sum(a.completions == b.completions for a, b in zip(batched, single))
    b = [statistics.median(x) for x in zip(*batched_t)]
    s = [statistics.median(x) for x in zip(*single_t)]
    print(
        f"problems={len(problems)} n={args.n} beam_width={args.beam_width} "
        f"threads={args.threads} repeats={args.repeats} (medians)"
    )
    calls_b = max(r.generate_calls for r in batched)  # every call serves all live problems
    calls_s = sum(r.generate_calls for r in single)
    for label, (total, gen, prm), calls in (
        ("batched across problems", b, calls_b),
        ("one problem at a time  ", s, calls_s),
    ):
        print(
            f"{label}: {total:7.2f} s (generate {gen:6.2f} s, PRM {prm:6.2f} s), "
            f"{calls} generate calls"
        )
    print(
        f"speed-up (one-at-a-time / batched): {s[0] / b[0]:.2f}x overall, "
        f"{s[1] / b[1]:.2f}x generate, {s[2] / b[2]:.2f}x PRM; "
        f"identical completions: {same}/{len(problems)} problems; "
        f"tokens: {sum(r.generated_tokens for r in batched)}"
    )


if __name__ == "__main__":
    main()
