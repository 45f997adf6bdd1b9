#!/usr/bin/env python
"""List the missing row ranges of a sweep's runs and, optionally, rerun exactly those shards.

Give the same overrides as the sweep (comma sweeps expand as in Hydra):

    python scripts/find_missing.py approach=dvts n=4,16 shard.count=8
    python scripts/find_missing.py n=4,16 shard.count=8 --resubmit                    # here
    python scripts/find_missing.py n=4,16 shard.count=8 --resubmit --launcher slurm   # array
    python scripts/find_missing.py n=4,16 shard.count=8 --resubmit --launcher slurm --dry-run

A range is missing when no chunk covers it or its chunk does not validate (unreadable or
truncated parquet, wrong rows, duplicate problems: each is named). Names come from
ttscale.storage.naming, exactly as run.py writes them. ``--launcher local`` runs the missing
shards one after another in this process; ``--launcher slurm`` runs the hydra command
``python run.py -m ... shard.index=i,j`` with ``hydra/launcher=slurm`` unless the sweep
named a launcher. Exit code: 0 if nothing is (or, after --resubmit, remains) missing.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from hydra.errors import HydraException

from ttscale.config.preflight import BAD_INPUT
from ttscale.paths import ROOT
from ttscale.sweep import (
    RunPlan,
    check,
    overrides_parser,
    plan_runs,
    rerun_args,
    rerun_command,
    run_shards_locally,
    shards_for,
)
from ttscale.sweep.hydra import compose_sweep


def slurm_argv(plan: RunPlan, missing: list[tuple[int, int]], *, redacted: bool) -> list[str]:
    """The run.py command that resubmits the shards as one Slurm array."""
    args = rerun_args(plan, missing, redacted=redacted)
    if not any(a.lstrip("+").startswith("hydra/launcher=") for a in args):
        preset = (
            "slurm" if (ROOT / "conf/hydra/launcher/slurm.yaml").is_file() else "submitit_slurm"
        )
        args.insert(0, f"hydra/launcher={preset}")
    return ["python", "run.py", "-m", *args]


def report(plans: list[RunPlan]) -> dict[int, list[tuple[int, int]]]:
    """Print each run's state; return the missing ranges of the incomplete ones, by plan index.

    (Two runs of one sweep can share a name and differ in identity: plans are keyed by index.)
    """
    todo = {}
    for i, plan in enumerate(plans):
        r = check(plan)
        print(f"{plan.label}: {r.rows}/{r.expected_rows} rows in {len(r.chunks)} valid chunks")
        for bad in r.bad:
            print(f"  invalid chunk: {bad}")
        if r.missing:
            print("  missing rows: " + ", ".join(f"[{s}, {e})" for s, e in r.missing))
            print(f"  rerun: {rerun_command(plan, r.missing)}")
            todo[i] = r.missing
    return todo


def main(argv: list[str] | None = None) -> int:
    parser = overrides_parser(__doc__)
    parser.add_argument("--resubmit", action="store_true", help="rerun the missing shards")
    parser.add_argument("--launcher", choices=("local", "slurm"), default="local")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    try:
        plans = plan_runs(compose_sweep(args.overrides))
        todo = report(plans)
        if not todo or not args.resubmit:
            return 1 if todo else 0
        for i, missing in todo.items():
            plan = plans[i]
            if args.dry_run and args.launcher == "slurm":
                print(shlex.join(slurm_argv(plan, missing, redacted=True)))
            elif args.dry_run:
                print(f"would run shards {shards_for(plan, missing)} of {plan.name} here")
            elif args.launcher == "local":
                run_shards_locally(plan, shards_for(plan, missing))
            else:
                argv = slurm_argv(plan, missing, redacted=False)
                subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, check=True)
        if args.dry_run:
            return 1
        print("after resubmission:")
        return 1 if report(plans) else 0
    except (*BAD_INPUT, HydraException) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
