#!/usr/bin/env python
"""`transformers serve` on CPU: one torch thread vs the default (all cores), same requests.

``model.serve=true`` on CPU starts the server with ``OMP_NUM_THREADS=1``; this measures why.
Two servers of the committed toy policy (fp32) get the same greedy requests through the
OpenAI backend, in alternating rounds; the figure is the ratio of median round times. The
completions must be identical (greedy, same weights), which the script checks.

    python bench/serve_threads.py --prompts 6 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=6, help="first problems of the toy split")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians reported")
    ap.add_argument("--max-tokens", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    ap.add_argument("--policy", default=str(ROOT / "models" / "toy-policy"))
    return ap.parse_args()


def main() -> None:
    import os

    from transformers import AutoTokenizer

    from ttscale.backends.openai import OpenAIGenerator
    from ttscale.backends.serve import TransformersServer
    from ttscale.prompts import build_prompt
    from ttscale.toyworld.problems import test_split
    from ttscale.types import SamplingParams

    args = parse_args()
    tok = AutoTokenizer.from_pretrained(args.policy)
    prompts = [build_prompt(tok, r["problem"], None) for r in test_split()[: args.prompts]]
    params = [SamplingParams(temperature=0.0, max_tokens=args.max_tokens)] * len(prompts)
    ways = {"1 thread": 1, f"default ({os.cpu_count()} cores)": None}
    servers = {
        name: TransformersServer(args.policy, device="cpu", dtype="float32", threads=t)
        for name, t in ways.items()
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    texts: dict[str, list[str]] = {}
    try:
        gens = {
            name: OpenAIGenerator(
                s.start(),
                model=args.policy,
                tokenizer=tok,
                concurrency=args.concurrency,
                progress=False,
            )
            for name, s in servers.items()
        }
        for _ in range(args.rounds):
            for name, gen in gens.items():
                t0 = time.perf_counter()
                out = gen.generate(prompts, params)
                times[name].append(time.perf_counter() - t0)
                texts[name] = [o[0].text for o in out]
    finally:
        for s in servers.values():
            s.stop()
    (one, default) = (statistics.median(times[n]) for n in ways)
    same = sum(a == b for a, b in zip(*texts.values()))
    print(f"{len(prompts)} greedy requests x {args.rounds} rounds, concurrency {args.concurrency}")
    for name in ways:
        print(f"  {name:>20}: median {statistics.median(times[name]):.2f} s  {times[name]}")
    print(
        f"speed-up of 1 thread: {default / one:.2f}x   identical completions: {same}/{len(prompts)}"
    )


if __name__ == "__main__":
    main()
