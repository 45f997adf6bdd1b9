#!/usr/bin/env python
"""Start-up of a small run: ``run.py`` end to end against the floor its dependencies set.

Three ways, each a fresh process, alternating, wall time from launch to exit:

- **run**: ``python run.py dataset.num_samples=2 n=4`` (best-of-N with the toy PRM) into a
  fresh results folder, as a user runs it;
- **run, interpreter teardown**: the same run called as a function, so that the process
  ends with Python's own shutdown instead of ``ttscale.run.shutdown.exit_fast``;
- **floor**: nothing but importing torch and transformers and loading the same two
  tokenizers and models, then ``os._exit``: what any tool built on them pays before work.

Reported: median seconds per way, run / floor, and the seconds ttscale adds above the floor
(Hydra, validation, the search, grading, writing).

    python bench/startup.py               # 3 repeats
    python bench/startup.py --repeats 1   # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from alternate import timed_command  # bench/ is the script's folder: on sys.path

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ["dataset.num_samples=2", "n=4", "threads=2", "progress=false"]

FLOOR = """
import os
from transformers import AutoModelForCausalLM, AutoTokenizer
for path in ("models/toy-policy", "models/toy-prm"):
    AutoTokenizer.from_pretrained(path)
    AutoModelForCausalLM.from_pretrained(path)
os._exit(0)
"""

# run.py as it is, but ending with sys.exit: the interpreter then tears its modules down
TEARDOWN = """
import runpy, sys
import ttscale.run.shutdown
ttscale.run.shutdown.exit_fast = sys.exit
sys.argv = ["run.py", *sys.argv[1:]]
runpy.run_path("run.py", run_name="__main__")
"""


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs; medians reported")
    return ap.parse_args()


def timed(cmd: list[str], scratch: Path) -> float:
    """Seconds from launch to exit of ``cmd`` (run in the repository, output discarded).
    A run writes into a fresh folder: a complete chunk already there would be skipped."""
    out = Path(tempfile.mkdtemp(dir=scratch))
    full = [*cmd, f"storage.results_dir={out}", f"hydra.run.dir={out}/h"] if OVERRIDES[0] in cmd \
        else cmd  # fmt: skip
    return timed_command(full, ROOT)


def main() -> None:
    args = parse_args()
    py = sys.executable
    ways = {
        "run": [py, "run.py", *OVERRIDES],
        "run, interpreter teardown": [py, "-c", TEARDOWN, *OVERRIDES],
        "floor (torch + transformers, load both models)": [py, "-c", FLOOR],
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as scratch:
        for cmd in ways.values():  # warm-up: the page cache, not the timings
            timed(cmd, Path(scratch))
        for _ in range(args.repeats):
            for name, cmd in ways.items():
                times[name].append(timed(cmd, Path(scratch)))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"2 problems, n=4, best-of-N with the toy PRM; {args.repeats} alternating repeats "
          f"(median seconds, launch to exit)")  # fmt: skip
    for name, t in times.items():
        print(f"{name:48}: {med[name]:5.2f} s   ({', '.join(f'{s:.2f}' for s in t)})")
    run, floor = med["run"], med["floor (torch + transformers, load both models)"]
    print(f"run / floor = {run / floor:.2f}x; ttscale adds {run - floor:.2f} s above the floor")
    print(f"run / run with interpreter teardown = {run / med['run, interpreter teardown']:.2f}x")


if __name__ == "__main__":
    main()
