"""A sweep: its runs planned (plan), checked before any task runs (check), merged after
the Slurm array (merge). Hydra is touched only in :mod:`ttscale.sweep.hydra`."""

from ttscale.sweep.check import sweep_errors
from ttscale.sweep.merge import (
    MergeReport,
    check,
    format_reports,
    merge,
    merge_sweep,
    overrides_parser,
    read,
    rerun_args,
    rerun_command,
    run_shards_locally,
)
from ttscale.sweep.plan import (
    Range,
    RunPlan,
    merge_intervals,
    missing_ranges,
    plan_runs,
    shards_for,
)

__all__ = [
    "MergeReport",
    "Range",
    "RunPlan",
    "check",
    "format_reports",
    "merge",
    "merge_intervals",
    "merge_sweep",
    "missing_ranges",
    "overrides_parser",
    "plan_runs",
    "read",
    "rerun_args",
    "rerun_command",
    "run_shards_locally",
    "shards_for",
    "sweep_errors",
]
