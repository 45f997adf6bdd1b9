#!/usr/bin/env python
"""The cost of sharding on Slurm: submit-to-merged wall time of a sweep vs one process.

Both sides do the same work with the same entrypoint: ``python run.py -m`` over the first
``--problems`` toy test problems and every ``--n`` value, ending with the merged dataset.

* **slurm**: ``hydra/launcher=submitit_slurm shard.count=S``: one array of S x len(n) tasks on
  the local cluster (slurm/local/start.sh), then the merge job; timed from the command's start
  to its exit (it waits for the merge), i.e. submit to merged.
* **one process**: Hydra's basic launcher, ``shard.count=1``: every setting in turn in one
  process, then the in-process merge.

A third line reruns the Slurm sweep when every chunk exists: each task starts, finds its
chunk and skips it, then the merge job runs, so that time is the fixed cost of going through
Slurm. The script checks that both ways give the same completions for every problem (PRM
scores may differ in the last digits: the PRM pads different batches), and prints the load
average, since the two ways share the machine with whatever else runs on it:

    python bench/slurm_sweep.py --problems 32 --shards 4 --n 4,8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from alternate import timed_command  # bench/ is the script's folder: on sys.path

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=32, help="first rows of the toy test split")
    ap.add_argument("--shards", type=int, default=4, help="shard.count on Slurm")
    ap.add_argument("--n", default="4,8", help="swept n values (comma-separated)")
    ap.add_argument("--approach", default="best_of_n")
    ap.add_argument("--max-tokens", type=int, default=256)
    return ap.parse_args()


def timed_sweep(out: Path, *overrides: str) -> float:
    """Run ``run.py -m`` with results and logs under ``out``; its wall time in seconds."""
    cmd = [sys.executable, "run.py", "-m", f"storage.results_dir={out / 'results'}",
           f"paths.log_dir={out / 'logs'}", "progress=false", *overrides]  # fmt: skip
    return timed_command(cmd, ROOT)


def merged_completions(out: Path) -> dict[str, list[str]]:
    """Each run's merged (problem id, completions, answers), as JSON, in row order."""
    import pyarrow.parquet as pq

    keys = ["unique_id", "completions", "answers"]
    return {
        path.parent.name: [json.dumps(r) for r in pq.read_table(path, columns=keys).to_pylist()]
        for path in sorted((out / "results").rglob("merged.parquet"))
    }


def main() -> None:
    args = parse_args()
    common = [f"dataset.num_samples={args.problems}", f"n={args.n}",
              f"approach={args.approach}", f"max_tokens={args.max_tokens}"]  # fmt: skip
    tasks = args.shards * len(args.n.split(","))
    slurm_args = ["hydra/launcher=submitit_slurm", "hydra.launcher.poll_s=1",
                  # 1 CPU per task: its torch uses 1 thread (SLURM_CPUS_PER_TASK)
                  "hydra.launcher.cpus_per_task=1", f"shard.count={args.shards}", *common]  # fmt: skip
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        one, slurm = Path(tmp, "one"), Path(tmp, "slurm")
        print(f"one process: {len(args.n.split(','))} runs of {args.problems} problems ...")
        t_one = timed_sweep(one, "shard.count=1", *common)
        print(f"slurm: {tasks} array tasks ({args.shards} shards) + merge job ...")
        t_slurm = timed_sweep(slurm, *slurm_args)
        print("slurm again, every chunk present ...")
        t_again = timed_sweep(slurm, *slurm_args)
        same = merged_completions(one) == merged_completions(slurm) != {}
    load = (load + os.getloadavg()[0]) / 2
    print(f"\n{'way':<44} {'wall s':>8}")
    print(f"{'one process (basic launcher)':<44} {t_one:>8.1f}")
    print(f"{f'slurm, {tasks} tasks + merge job (submit to merged)':<44} {t_slurm:>8.1f}")
    print(f"{'slurm again, every chunk present':<44} {t_again:>8.1f}")
    print(f"ratio slurm / one process: {t_slurm / t_one:.2f}x   same completions: {same}")
    print(f"load average (1 min, mean of start and end): {load:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
