#!/usr/bin/env python
"""Torch threads on a shared CPU: 1 thread against all usable CPUs, idle and beside a busy process.

The same search (best-of-N with the toy PRM: sampling, then PRM scoring) runs with each
thread count, alternating, on an idle machine and then while one other CPU-bound process
spins (what a second run, a test suite or an editor's indexer does to a laptop). Reported:
median seconds per way and the ratios that decide ``threads: null``'s default
(``ttscale.run.threads``).

    python bench/threads.py                  # 8 problems, n=16, 3 repeats
    python bench/threads.py --problems 2 --n 4 --repeats 1   # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=8, help="first rows of the toy test split")
    ap.add_argument("--n", type=int, default=16, help="samples per problem")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs; medians reported")
    ap.add_argument(
        "--many", type=int, default=None, help="the larger thread count (default: all usable CPUs)"
    )
    return ap.parse_args()


def workload(args):
    """A function that runs one best-of-N search over the problems; its seconds."""
    sys.path.insert(0, str(ROOT / "bench"))  # the sibling module toy
    from toy import toy_context, toy_problems

    from ttscale.search import APPROACHES

    ctx = toy_context(args.n)
    problems = toy_problems(args.problems)
    cls = APPROACHES.get("best_of_n")
    search = cls(cls.Options(name="best_of_n")).search

    def once() -> float:
        t0 = time.perf_counter()
        search(problems, ctx)
        return time.perf_counter() - t0

    return once


def measure(once, counts: tuple[int, int], repeats: int) -> dict[int, float]:
    import torch

    times: dict[int, list[float]] = {c: [] for c in counts}
    for _ in range(repeats):
        for c in counts:
            torch.set_num_threads(c)
            times[c].append(once())
    return {c: statistics.median(t) for c, t in times.items()}


def main() -> None:
    import torch

    from ttscale.run.threads import available_cpus

    args = parse_args()
    many = args.many or available_cpus()
    if many < 2:
        sys.exit(f"only {many} usable CPU: nothing to compare")
    counts = (1, many)
    once = workload(args)
    torch.set_num_threads(1)
    once()  # warm-up
    idle = measure(once, counts, args.repeats)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1)
        busy = measure(once, counts, args.repeats)
    finally:
        spinner.kill()
    print(f"problems={args.problems} n={args.n} repeats={args.repeats} usable CPUs="
          f"{available_cpus()} (medians, seconds)")  # fmt: skip
    for label, t in (("idle", idle), ("beside a busy process", busy)):
        print(f"{label:22}: 1 thread {t[1]:6.2f} s, {many} threads {t[many]:6.2f} s, "
              f"{many} threads / 1 thread = {t[many] / t[1]:.2f}x the time")  # fmt: skip


if __name__ == "__main__":
    main()
