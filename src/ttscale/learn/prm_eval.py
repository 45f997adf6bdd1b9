"""Evaluate any PRM config: ProcessBench F1, a threshold sweep, step AUC, ranking, best-of-N.

    python -m ttscale.prm_eval prm=toy data=processbench.jsonl
    python -m ttscale.prm_eval prm=oracle data=pb.jsonl results=results/.../merged.parquet

``data``: ProcessBench-format JSON lines (``problem``, ``steps``, ``label``: the index of the
earliest wrong step, -1 if none). ``results``: a run's parquet (a chunk, ``merged.parquet``,
or a folder of them): each row's completions are rescored by this PRM and aggregated with
``agg_strategy``; the report gives the within-problem ranking AUC against the stored
correctness, and naive/weighted/maj@n at every n (the run's own metric definitions).
Any other ``key=value`` is a run.py override (``prm.path=...``, ``prm.batch_size=...``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

OWN_KEYS = ("data", "results", "threshold", "out")


def parse(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(this tool's keys, run.py overrides)."""
    own, rest = {}, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in OWN_KEYS:
            own[key] = value
        else:
            rest.append(arg)
    return own, rest


def score_cases(prm: Any, records: Sequence[dict[str, Any]]) -> list[list[float]]:
    """One score per step of every ProcessBench case, in one PRM call."""
    return prm.score([r["problem"] for r in records], [list(r["steps"]) for r in records]).scores


def processbench_report(labels: list[int], scores: list[list[float]], threshold: float) -> dict:
    from ttscale.metrics.prm import processbench, step_auc, threshold_sweep

    sweep = threshold_sweep(labels, scores)
    best = max(sweep, key=lambda r: r["f1"])
    return {"at_threshold": {"threshold": threshold, **processbench(labels, scores, threshold)},
            "best": best, "sweep": sweep, "step_auc": step_auc(labels, scores)}  # fmt: skip


def results_report(prm: Any, rows: list[dict[str, Any]], agg_strategy: str, seed: int) -> dict:
    """Rescore stored completions with ``prm``: ranking AUC and naive/weighted/maj@n."""
    from ttscale.metrics import aggregate
    from ttscale.metrics.accuracy import problem_metrics
    from ttscale.metrics.prm import within_problem_auc
    from ttscale.prm import prm_steps
    from ttscale.prm.aggregate import aggregate as agg

    questions, steps, owner = [], [], []
    for i, row in enumerate(rows):
        for c in row["completions"]:
            questions.append(row["problem"])
            steps.append(prm_steps(prm, c))
            owner.append(i)
    out = prm.score(questions, steps).scores
    per_row: list[list[float]] = [[] for _ in rows]
    for i, s in zip(owner, out):
        per_row[i].append(agg(s, agg_strategy) if s else 0.0)
    ranking, counted = within_problem_auc([(s, r["correct"]) for s, r in zip(per_row, rows)])
    metrics = aggregate(
        [
            problem_metrics(r["answer_labels"], r["correct"], s, ns=range(1, len(s) + 1),
                            seed=seed, key=r["unique_id"], methods=("naive", "weighted", "maj"))
            for s, r in zip(per_row, rows)
        ],
        missing="partial",
    )  # fmt: skip
    return {"within_problem_auc": ranking, "problems_ranked": counted,
            "problems": len(rows), "metrics": metrics}  # fmt: skip


def read_rows(path: str) -> list[dict[str, Any]]:
    """The rows of a parquet file, or of every parquet in a folder (merged.parquet alone
    when present)."""
    import pyarrow.parquet as pq

    p = Path(path)
    if p.is_dir():
        merged = p / "merged.parquet"
        files = [merged] if merged.is_file() else sorted(p.glob("chunk-*.parquet"))
        if not files:
            raise ValueError(f"results={path}: no merged.parquet or chunk-*.parquet in it")
    elif p.is_file():
        files = [p]
    else:
        raise ValueError(f"results={path}: no such file or folder")
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def format_report(report: dict[str, Any]) -> str:
    lines = [f"PRM: {report['prm']}"]
    pb = report.get("processbench")
    if pb:
        at, best = pb["at_threshold"], pb["best"]
        lines += [
            f"ProcessBench ({at['n_error']} erroneous, {at['n_correct']} correct cases):",
            f"  threshold {at['threshold']:.2f}: F1 {at['f1']:.3f} "
            f"(error acc {at['error_acc']:.3f}, correct acc {at['correct_acc']:.3f})",
            f"  best threshold {best['threshold']:.2f}: F1 {best['f1']:.3f}",
            f"  step AUC {pb['step_auc']:.3f}",
        ]
    res = report.get("results")
    if res:
        lines.append(
            f"results ({res['problems']} problems, {res['problems_ranked']} with both right "
            f"and wrong samples): within-problem AUC {res['within_problem_auc']:.3f}"
        )
        m = res["metrics"]
        ns = sorted({int(k.split("@")[1]) for k in m if k.startswith("naive@")})
        lines.append("   n  naive  weighted    maj")
        for n in ns:
            row = [m.get(f"{k}@{n}", math.nan) for k in ("naive", "weighted", "maj")]
            lines.append(f"{n:>4}  " + "  ".join(f"{100 * v:5.1f}%" for v in row))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from ttscale.config import ConfigError, validate
    from ttscale.learn.labels import read_jsonl
    from ttscale.prm import build_prm
    from ttscale.sweep.hydra import compose

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    own, overrides = parse(argv)
    if "data" not in own and "results" not in own:
        print("error: give data=<processbench jsonl> and/or results=<parquet>", file=sys.stderr)
        return 2
    try:
        cfg = compose(*overrides)
        if cfg.prm.name == "none":
            raise ConfigError("prm: prm_eval evaluates a PRM; choose one (prm=toy, prm=oracle...)")
        run = validate(cfg)
        threshold = float(own.get("threshold", 0.5))
        records = read_jsonl(own["data"]) if "data" in own else []
        rows = read_rows(own["results"]) if "results" in own else []
    except (ConfigError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    prm = build_prm(run.prm, seed=run.seed)
    report: dict[str, Any] = {
        "prm": run.prm.path or run.prm.name,
        "prm_config": run.prm.model_dump(),
    }
    if records:
        labels = [int(r["label"]) for r in records]
        report["processbench"] = processbench_report(labels, score_cases(prm, records), threshold)
    if rows:
        report["results"] = results_report(prm, rows, run.agg_strategy, run.seed)
    print(format_report(report))
    if "out" in own:
        from ttscale.files import atomic_write_bytes

        atomic_write_bytes(Path(own["out"]), json.dumps(report, indent=2, default=str).encode())
        print(f"report: {own['out']}")
    return 0
