"""``python -m ttscale.analysis`` / ``scripts/analyze.py``: discover runs, report, plot."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ttscale.analysis.compare import ANALYSES, Section
from ttscale.analysis.discover import Run, discover, filter_runs
from ttscale.analysis.load import load_run
from ttscale.analysis.report import console_table, write_report
from ttscale.analysis.stats import GroupMetrics, RunMetrics, group_seeds, run_metrics

log = logging.getLogger("ttscale.analysis")

EXAMPLES = """examples:
  python -m ttscale.analysis results --list
  python -m ttscale.analysis results                                  # summary report
  python -m ttscale.analysis results --analysis-type approach_comparison temperature_comparison
  python -m ttscale.analysis results --filter best_of_n --filter T-0.8 --no-plots
  python -m ttscale.analysis results --analysis-type difficulty_temperature --levels baseline
  python -m ttscale.analysis old_runs/ results/ --subset-mode prefix    # anchor-compatible
  python -m ttscale.analysis hub:user/math500-runs                      # Hub configs (needs network)
"""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="python -m ttscale.analysis",
        description="Analyse ttscale (and search-and-learn / hotncold) runs: metrics per run, "
        "mean ± std across seeds, comparisons, PNG plots and a markdown report.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sources", nargs="*", default=["results"],
                   help="results folders, or hub:{repo_id} (default: results)")  # fmt: skip
    p.add_argument("--list", action="store_true", help="list the runs found and exit")
    p.add_argument("--filter", action="append", default=[], metavar="PATTERN",
                   help="keep runs whose model/approach/name contains PATTERN (or matches the "
                        "glob); repeat to require several")  # fmt: skip
    p.add_argument("--output-dir", type=Path, default=Path("results/analysis"),
                   help="where the report, plots and verdict cache go "
                        "(default: results/analysis, git-ignored)")  # fmt: skip
    p.add_argument("--analysis-type", nargs="+", choices=[*ANALYSES, "all"], default=["summary"],
                   help="one or more analyses (default: summary)")  # fmt: skip
    p.add_argument("--subset-mode", choices=("random", "prefix"), default="random",
                   help="random subsets (unbiased, default) or completions[:n] as "
                        "search-and-learn")  # fmt: skip
    p.add_argument("--draws", type=int, default=100, help="random subsets per n (default 100)")
    p.add_argument("--levels", choices=("auto", "dataset", "baseline"), default="auto",
                   help="difficulty levels: the dataset's, or from a baseline solve rate "
                        "(auto: dataset's when every run has them)")  # fmt: skip
    p.add_argument(
        "--baseline-temperature",
        type=float,
        default=0.8,
        help="temperature of the single-temperature baseline run (default 0.8)",
    )
    p.add_argument(
        "--grading-workers",
        type=int,
        default=2,
        help="math-verify worker processes for runs that need grading",
    )
    p.add_argument(
        "--grading-timeout",
        type=float,
        default=5.0,
        help="seconds per item before it is graded wrong",
    )
    p.add_argument("--grading", choices=("regrade", "stored"), default="regrade",
                   help="regrade: every completion graded with math-verify, metrics over "
                        "random subsets (default); stored: the accuracy of the rows' own "
                        "pred_*@n columns (prefix subsets), as search-and-learn's "
                        "evaluation reports")  # fmt: skip
    p.add_argument("--no-plots", action="store_true", help="tables and report only")
    p.add_argument("--verbose", "-v", action="store_true", help="log every file read")
    return p


def _list(runs: Sequence[Run]) -> None:
    rows = []
    for r in runs:
        n = r.name
        where = f"hub:{r.hub[0]}" if r.hub else f"{len(r.files)} file(s)"
        rows.append([r.model, r.approach, n.dataset, n.temperature_label, str(n.n), str(n.seed),
                     n.agg_strategy or "", str(n.beam_width or ""), where])  # fmt: skip
    headers = ["model", "approach", "dataset", "temperature", "n", "seed", "agg", "m", "data"]
    print(console_table(headers, rows))
    print(f"{len(runs)} run(s)")


def analyse(runs: Sequence[Run], args: argparse.Namespace) -> list[GroupMetrics]:
    """Load, grade where needed, and compute every run's metrics; group seeds."""
    from tqdm.auto import tqdm

    from ttscale.grading import Grader

    args.output_dir.mkdir(parents=True, exist_ok=True)
    cache = args.output_dir / "grading_cache.json"
    metrics: list[RunMetrics] = []
    with Grader(num_workers=args.grading_workers, timeout=args.grading_timeout,
                cache_path=cache) as grader:  # fmt: skip
        for run in tqdm(runs, desc="runs", disable=len(runs) < 2 or not sys.stderr.isatty()):
            log.info("reading %s from %s", run.key, [str(f) for f in run.files] or run.hub)
            problems = load_run(run, grader)
            metrics.append(run_metrics(run, problems, mode=args.subset_mode, draws=args.draws))
        log.info("grading: %s", grader.stats.as_dict())
    return group_seeds(metrics)


def _stored(runs: Sequence[Run], args: argparse.Namespace) -> int:
    """``--grading stored``: one table of the rows' own pred_*@n accuracies per run."""
    from ttscale.analysis.load import stored_accuracy
    from ttscale.grading import Grader

    args.output_dir.mkdir(parents=True, exist_ok=True)
    rows, keys = [], []
    try:
        with Grader(num_workers=args.grading_workers, timeout=args.grading_timeout,
                    cache_path=args.output_dir / "grading_cache.json") as grader:  # fmt: skip
            found = [(run, *stored_accuracy(run, grader)) for run in runs]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for _, acc, _ in found:
        keys += [k for k in acc if k not in keys]
    for run, acc, count in found:
        cells = [f"{100 * acc[k]:.1f}" if k in acc else "" for k in keys]
        rows.append([run.key, str(count), *cells])
    section = Section(
        "Stored predictions (grading: stored)",
        ["run", "problems", *keys],
        rows,
        notes=["Accuracy (%) of each row's own pred_{method}@{n} column, graded against "
               "`answer` with math-verify: what the tool that wrote the rows picked from "
               "completions[:n] (search-and-learn's evaluation reports these columns)."],
    )  # fmt: skip
    print(f"\n== {section.title} ==\n{section.notes[0]}")
    print(console_table(section.headers, section.rows))
    path = write_report(args.output_dir / "report.md", [section], title="ttscale analysis",
                        preamble=[f"{len(runs)} runs; grading: stored pred_*@n columns."])  # fmt: skip
    print(f"\nreport: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        runs = filter_runs(discover(args.sources), args.filter)
    except (FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not runs:
        print(f"error: no runs found in {args.sources} matching {args.filter}", file=sys.stderr)
        return 1
    if args.list:
        _list(runs)
        return 0
    if args.grading == "stored":
        return _stored(runs, args)
    try:
        groups = analyse(runs, args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    types = list(ANALYSES) if "all" in args.analysis_type else args.analysis_type
    plots = None if args.no_plots else args.output_dir
    sections: list[Section] = []
    for kind in dict.fromkeys(types):
        found = ANALYSES[kind](groups, plots, levels=args.levels,
                               baseline_temperature=args.baseline_temperature)  # fmt: skip
        for s in found:
            print(f"\n== {s.title} ==")
            print("\n".join(s.notes))
            if s.rows:
                print(console_table(s.headers, s.rows))
        sections.extend(found)
    preamble = [f"{len(runs)} runs in {len(groups)} seed groups from {', '.join(args.sources)}; "
                f"subset mode {args.subset_mode}, {args.draws} draws; grading: every "
                "completion regraded with math-verify (--grading stored reports the rows' "
                "own pred_*@n columns instead)."]  # fmt: skip
    path = write_report(args.output_dir / "report.md", sections, title="ttscale analysis",
                        preamble=preamble)  # fmt: skip
    print(f"\nreport: {path}")
    return 0
