"""Analysis of finished runs: discovery, metrics tables, comparisons, plots, reports.

``python -m ttscale.analysis RESULTS_DIR`` (or ``scripts/analyze.py``); see ``--help``.
"""

from ttscale.analysis.discover import Run, discover, discover_local, filter_runs
from ttscale.analysis.load import load_run
from ttscale.analysis.stats import GroupMetrics, RunMetrics, group_seeds, run_metrics

__all__ = [
    "GroupMetrics",
    "Run",
    "RunMetrics",
    "discover",
    "discover_local",
    "filter_runs",
    "group_seeds",
    "load_run",
    "run_metrics",
]
