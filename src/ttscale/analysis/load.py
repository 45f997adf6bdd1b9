"""Read a run's rows and bring them to one shape, grading at scale where needed.

Our rows already hold ``correct`` and ``answer_labels``: they are reused as stored, and the
(large) ``completions`` column is not even read. Rows in search-and-learn's / hotncold's layout
(``problem, answer, completions, scores, pred, pred_*@n``, maybe ``level``) are graded here:
answers extracted, (gold, answer) pairs deduplicated across the whole run, verdicts taken from
the persistent cache or computed by the worker pool, answers clustered per problem.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscale.analysis.discover import Run
from ttscale.grading import Grader, extract_answer
from ttscale.metrics.temperature import counters
from ttscale.prm.aggregate import aggregate as agg_steps

log = logging.getLogger(__name__)

__all__ = [
    "Problem",
    "grade_completions",
    "load_run",
    "normalize_rows",
    "read_rows",
    "stored_accuracy",
]

# Columns read when rows are ours; ``completions`` is only read for anchor layouts.
_OURS = (
    "index",
    "unique_id",
    "level",
    "answer_labels",
    "correct",
    "agg_scores",
    "temperatures",
    "generated_tokens",
    "prm_tokens",
    "completion_tokens",
    "counters",
    "flops",
)
_ANCHOR = ("problem", "answer", "completions", "scores", "level", "unique_id", "completion_tokens")


@dataclass
class Problem:
    """One problem of a run, ready for :mod:`ttscale.metrics`.

    Attributes:
        key: Stable id (``unique_id``, else the row index): random subsets derive from it.
        level: Difficulty level from the dataset, or None.
        labels: Answer-cluster id per completion (-1: no answer).
        correct: Correctness per completion.
        scores: Aggregated PRM score per completion, or None without a PRM.
        temperatures: Sampling temperature per completion, or None when unknown.
        tokens: Generated tokens for the problem (NaN when unknown).
        prm_tokens: PRM tokens for the problem (NaN when unknown).
        flops: Compute for the problem, policy and PRM (NaN when not recorded).
        counters: The approach's own counters (two-stage voting: its exit round, samples and
            tokens used, the vote's index); empty for anchor rows.
    """

    key: str
    level: int | None
    labels: list[int]
    correct: list[bool]
    scores: list[float] | None
    temperatures: list[float] | None
    tokens: float
    prm_tokens: float
    flops: float = math.nan
    counters: dict[str, int] = field(default_factory=dict)


def read_rows(path: Path, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a parquet or JSONL file; ``columns`` limits what a parquet read decodes."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        cols = None if columns is None else [c for c in columns if c in names]
        return pq.read_table(path, columns=cols).to_pylist()
    except Exception as err:  # a corrupt or truncated chunk: name it
        raise ValueError(f"cannot read {path}: {err}") from err


def _is_ours(path: Path) -> bool:
    if path.suffix == ".jsonl":
        return False
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception as err:  # a corrupt or truncated chunk: name it
        raise ValueError(f"cannot read {path}: {err}") from err
    return {"correct", "answer_labels"} <= names


def grade_completions(
    golds: Sequence[str], completions: Sequence[Sequence[str]], grader: Grader
) -> tuple[list[list[int]], list[list[bool]]]:
    """Extract, grade and cluster the completions of many problems: the pipeline's one path.

    Returns:
        ``(labels, correct)``, one list per problem (see :meth:`Grader.grade_and_cluster`).
    """
    answers = [[extract_answer(c) for c in cs] for cs in completions]
    return grader.grade_and_cluster(golds, answers)


def _tokens(row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    if value is not None:
        return float(value)
    if key == "generated_tokens" and row.get("completion_tokens") is not None:
        return float(sum(row["completion_tokens"]))
    return math.nan


def _scores(row: dict[str, Any], agg: str) -> list[float] | None:
    stored = row.get("agg_scores")
    if stored is not None:
        return None if all(math.isnan(s) for s in stored) else [float(s) for s in stored]
    steps = row.get("scores")
    if not steps or not any(steps):
        return None
    out = [agg_steps(s, agg) for s in steps]
    return None if all(math.isnan(s) for s in out) else out


def _temperatures(row: dict[str, Any], run: Run, size: int) -> list[float] | None:
    if row.get("temperatures") is not None:
        return [float(t) for t in row["temperatures"]]
    if run.name.schedule == "single":
        return [run.name.temperatures[0]] * size
    return None  # several temperatures, no column: the assignment is unknown


def normalize_rows(
    rows: Sequence[dict[str, Any]], run: Run, grader: Grader | None = None
) -> list[Problem]:
    """Turn rows (ours or an anchor's) into :class:`Problem` records.

    Args:
        rows: The run's rows (duplicates by ``unique_id``/``index`` are dropped).
        run: The run, for its aggregation strategy and temperatures.
        grader: Needed only when rows lack ``correct``/``answer_labels``.
    """
    rows = _dedupe(rows)
    agg = run.name.agg_strategy or "last"
    ours = all(r.get("correct") is not None and r.get("answer_labels") is not None for r in rows)
    if ours:
        labels = [list(r["answer_labels"]) for r in rows]
        correct = [[bool(c) for c in r["correct"]] for r in rows]
    else:
        if grader is None:
            raise ValueError(f"run {run.key}: rows need grading but no grader was given")
        for i, r in enumerate(rows):
            for col in ("answer", "completions"):
                if r.get(col) is None:
                    raise ValueError(f"run {run.key}: row {i} has no {col!r} column")
        golds = [str(r["answer"]) for r in rows]
        labels, correct = grade_completions(golds, [r["completions"] for r in rows], grader)
    out = []
    for i, (r, lab, ok) in enumerate(zip(rows, labels, correct)):
        level = r.get("level")
        out.append(
            Problem(
                key=str(r.get("unique_id") or r.get("index", i)),
                level=int(level) if level not in (None, "") else None,
                labels=lab,
                correct=ok,
                scores=_scores(r, agg),
                temperatures=_temperatures(r, run, len(lab)),
                tokens=_tokens(r, "generated_tokens"),
                prm_tokens=_tokens(r, "prm_tokens"),
                flops=float(r["flops"]) if r.get("flops") is not None else math.nan,
                counters=counters(r),
            )
        )
    return out


_VOLATILE = ("search_seconds",)  # differs between two runs of the same rows


def _dedupe(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeats of a problem (overlapping chunks of one run); they must agree.

    Raises:
        ValueError: two rows of one problem differ: never keep one of them silently.
    """
    seen: dict[str, dict[str, Any]] = {}
    out = []
    for i, r in enumerate(rows):
        key = str(r.get("unique_id") or r.get("index", f"#{i}"))
        first = seen.get(key)
        if first is None:
            seen[key] = r
            out.append(r)
            continue
        differ = sorted(
            k
            for k in set(first) | set(r)
            if k not in _VOLATILE and not _same(first.get(k), r.get(k))
        )
        if differ:
            raise ValueError(
                f"problem {key} appears twice with different rows (columns {differ[:5]}): "
                "the run's files overlap with different results"
            )
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def load_run(run: Run, grader: Grader | None = None) -> list[Problem]:
    """Read (or download) a run's rows and normalise them; see :func:`normalize_rows`."""
    files = run.files or _hub_files(run)
    rows: list[dict[str, Any]] = []
    for path in files:
        rows.extend(read_rows(path, _OURS if _is_ours(path) else _ANCHOR))
    if not rows:
        raise ValueError(f"run {run.key}: no rows in {[str(f) for f in files]}")
    return normalize_rows(rows, run, grader)


def _hub_files(run: Run) -> list[Path]:
    """Download a Hub run's parquet files (thin adapter; needs ``ttscale[hub]``)."""
    if run.hub is None:
        raise ValueError(f"run {run.key} has neither local files nor a Hub location")
    from huggingface_hub import HfApi, hf_hub_download

    repo, config = run.hub
    files = HfApi().list_repo_files(repo, repo_type="dataset")
    wanted = [f for f in files if f.startswith(f"{config}/") and f.endswith(".parquet")]
    return [Path(hf_hub_download(repo, f, repo_type="dataset")) for f in wanted]


_PRED = re.compile(r"pred_(naive|weighted|maj)@(\d+)")


def stored_accuracy(run: Run, grader: Grader) -> tuple[dict[str, float], int]:
    """Accuracy of the rows' own ``pred_{method}@{n}`` columns, as search-and-learn reports.

    Those columns are what the tool that wrote the rows picked from ``completions[:n]``
    (ties to the first); each is graded against ``answer`` with math-verify.

    Returns:
        ``({"naive@4": accuracy, ...}, number of problems)``.
    """
    files = run.files or _hub_files(run)
    rows: list[dict[str, Any]] = []
    for path in files:
        rows.extend(read_rows(path))
    rows = _dedupe(rows)
    cols = sorted(
        {k for r in rows for k in r if _PRED.fullmatch(k)},
        key=lambda k: (int(_PRED.fullmatch(k).group(2)), k),
    )
    if not cols:
        raise ValueError(f"run {run.key}: its rows have no pred_*@n columns")
    out = {}
    for col in cols:
        have = [r for r in rows if r.get(col) is not None]
        ok = grader.grade([str(r["answer"]) for r in have], [extract_answer(r[col]) for r in have])
        method, n = _PRED.fullmatch(col).groups()
        out[f"{method}@{n}"] = sum(ok) / len(rows)  # a row without the column counts as wrong
    return out, len(rows)
