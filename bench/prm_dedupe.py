#!/usr/bin/env python
"""PRM: each distinct input of a call read once vs every item read (the anchors' way).

A step search sends the PRM the same prefix many times in one call: a beam's copies, and
children that sampled the same step (a small policy often does). The new way
(``dedupe=True``, the default) reads each distinct input once and copies its scores; the old
way reads every item. The script records the PRM calls a search makes on the first problems
of the toy test split, then replays them on both PRMs in one process, alternating, and checks
that the scores agree.

    python bench/prm_dedupe.py --approach collective_backtrack --problems 10 --n 16
    python bench/prm_dedupe.py --approach beam_search --problems 10 --n 16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--approach",
        choices=("beam_search", "dvts", "collective_backtrack", "independent_backtrack"),
        default="collective_backtrack",
        help="the search whose PRM calls are recorded (default options; collective "
        "backtracking's widths scale with n/4 as in scripts/compare_approaches.py)",
    )
    ap.add_argument("--problems", type=int, default=10, help="first rows of the toy test split")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--policy", default=str(ROOT / "models" / "toy-policy"))
    ap.add_argument("--prm", default=str(ROOT / "models" / "toy-prm"))
    ap.add_argument("--batch-size", type=int, default=128, help="generator batch (conf: 128)")
    ap.add_argument("--prm-batch-size", type=int, default=64, help="PRM batch (conf: 64)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs; medians reported")
    return ap.parse_args()


def record_calls(args) -> list[tuple[list[str], list[list[str]]]]:
    """The PRM calls the search makes on the first problems, as (questions, steps)."""
    from beam_batching import build  # the same context the pipeline builds

    from ttscale.search import APPROACHES

    ctx, problems = build(args)
    cls = APPROACHES.get(args.approach)
    options = {}
    if args.approach == "collective_backtrack":
        scale = max(1, args.n // 4)
        options = dict(
            keeping_branches=3 * scale, passing_minimum=3 * scale, max_total_branches=9 * scale
        )
    calls, score = [], ctx.scorer.prm.score

    def record(questions, steps):
        calls.append((list(questions), [list(s) for s in steps]))
        return score(questions, steps)

    ctx.scorer.prm.score = record
    cls(cls.Options(**options)).search(problems, ctx)
    return calls


def replay(prm, calls) -> tuple[tuple[list[list[float]], int], float]:
    """(every item's scores, PRM tokens read) over the calls, and the seconds."""
    t0 = time.perf_counter()
    outs = [prm.score(questions, steps) for questions, steps in calls]
    seconds = time.perf_counter() - t0
    scores = [s for out in outs for s in out.scores]
    return (scores, sum(t for out in outs for t in out.num_tokens)), seconds


def main() -> None:
    import torch

    from ttscale.prm.likelihood import LikelihoodPRM

    args = parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "bench"))  # the sibling modules beam_batching, alternate
    from alternate import replay_both

    calls = record_calls(args)
    new, old = (
        LikelihoodPRM(args.prm, batch_size=args.prm_batch_size, dedupe=flag)
        for flag in (True, False)
    )
    ((new_scores, new_tokens), (old_scores, old_tokens)), (tn, to) = replay_both(
        replay, new, old, calls, args.repeats
    )
    items = sum(len(q) for q, _ in calls)
    distinct = sum(len({(a, tuple(b)) for a, b in zip(q, s)}) for q, s in calls)
    gap = max(abs(a - b) for x, y in zip(new_scores, old_scores) for a, b in zip(x, y))
    print(
        f"approach={args.approach} problems={args.problems} n={args.n} calls={len(calls)} "
        f"items={items} distinct={distinct} threads={args.threads} repeats={args.repeats} "
        f"(medians)"
    )
    print(f"distinct inputs once (new): {tn:7.2f} s, {new_tokens} PRM tokens read")
    print(f"every item (old):           {to:7.2f} s, {old_tokens} PRM tokens read")
    print(
        f"speed-up (old / new): {to / tn:.2f}x; largest score difference: {gap:.1e} "
        f"(batch composition, float rounding)"
    )
    if gap > 1e-4:
        sys.exit("scores differ beyond rounding")


if __name__ == "__main__":
    main()
