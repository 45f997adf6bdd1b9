#!/usr/bin/env python
"""HF backend: preallocated KV cache vs transformers' DynamicCache, on the same generate calls.

The new way (``kv_cache="preallocated"``) writes each step's keys and values in place, drops
finished rows in bulk and prefills each distinct prompt of a batch once; the old way
(``kv_cache="dynamic"``, the earlier implementation) grows a DynamicCache by concatenation and
compacts it at every finish. Both generators load the same weights in one process and replay
the same calls, alternating; the script checks that they return identical completions.

    python bench/hf_decode.py --workload sampling --problems 8 --n 16   # best-of-N sampling
    python bench/hf_decode.py --workload steps --problems 10 --n 4      # a step search's calls
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
        "--workload",
        choices=("sampling", "steps"),
        default="sampling",
        help="sampling: n completions per problem in one call; steps: the generate calls that "
        "collective backtracking makes (recorded once, then replayed)",
    )
    ap.add_argument("--problems", type=int, default=8, help="first rows of the toy test split")
    ap.add_argument("--n", type=int, default=16, help="samples (or branches) per problem")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--policy", default=str(ROOT / "models" / "toy-policy"))
    ap.add_argument("--prm", default=str(ROOT / "models" / "toy-prm"), help="for --workload steps")
    ap.add_argument("--batch-size", type=int, default=128, help="generator batch (conf: 128)")
    ap.add_argument("--prm-batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs; medians reported")
    return ap.parse_args()


def sampling_calls(args, gen) -> list[tuple[list[str], list]]:
    """One call: every problem's prompt with n samples, as best_of_n makes it."""
    from ttscale.prompts import build_prompt
    from ttscale.toyworld.problems import test_split
    from ttscale.types import SamplingParams

    rows = list(test_split())[: args.problems]
    prompts = [build_prompt(gen.tokenizer, r["problem"], None) for r in rows]
    params = [
        SamplingParams(n=args.n, temperature=0.8, max_tokens=args.max_tokens, seed=i)
        for i in range(len(rows))
    ]
    return [(prompts, params)]


def step_calls(args) -> list[tuple[list[str], list]]:
    """The generate calls of collective backtracking on the first problems, recorded."""
    from beam_batching import build  # the same context the pipeline builds

    from ttscale.search.backtrack import CollectiveBacktrack

    ctx, problems = build(args)
    calls, generate = [], ctx.generator.generate

    def record(prompts, params):
        calls.append((list(prompts), list(params)))
        return generate(prompts, params)

    ctx.generator.generate = record
    CollectiveBacktrack(CollectiveBacktrack.Options()).search(problems, ctx)
    return calls


def replay(gen, calls) -> tuple[tuple[list[str], int], float]:
    """(completion texts, generated tokens) of the calls on one generator, and the seconds."""
    t0 = time.perf_counter()
    outs = [gen.generate(prompts, params) for prompts, params in calls]
    seconds = time.perf_counter() - t0
    comps = [c for out in outs for group in out for c in group]
    return ([c.text for c in comps], sum(c.num_tokens for c in comps)), seconds


def main() -> None:
    import torch

    from ttscale.backends.hf import HFGenerator

    args = parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "bench"))  # the sibling modules beam_batching, alternate
    from alternate import replay_both

    new, old = (
        HFGenerator(args.policy, batch_size=args.batch_size, progress=False, kv_cache=kind)
        for kind in ("preallocated", "dynamic")
    )
    calls = sampling_calls(args, new) if args.workload == "sampling" else step_calls(args)
    ((new_texts, tokens), (old_texts, _)), (tn, to) = replay_both(
        replay, new, old, calls, args.repeats
    )
    rows = sum(len(prompts) for prompts, _ in calls)
    same = sum(a == b for a, b in zip(new_texts, old_texts))
    print(
        f"workload={args.workload} problems={args.problems} n={args.n} calls={len(calls)} "
        f"prompts={rows} threads={args.threads} repeats={args.repeats} (medians)"
    )
    print(f"preallocated (new): {tn:7.2f} s, {tokens / tn:7.0f} generated tokens/s")
    print(f"dynamic (old):      {to:7.2f} s, {tokens / to:7.0f} generated tokens/s")
    print(
        f"speed-up (old / new): {to / tn:.2f}x; identical completions: "
        f"{same}/{len(new_texts)}; generated tokens: {tokens}"
    )


if __name__ == "__main__":
    main()
