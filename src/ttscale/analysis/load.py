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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttscale.analysis.discover import Run
from ttscale.grading import Grader, extract_answer
from ttscale.prm.aggregate import aggregate as agg_steps

log = logging.getLogger(__name__)

__all__ = ["Problem", "grade_completions", "load_run", "normalize_rows", "read_rows"]

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
    """

    key: str
    level: int | None
    labels: list[int]
    correct: list[bool]
    scores: list[float] | None
    temperatures: list[float] | None
    tokens: float
    prm_tokens: float


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
    """Grade and cluster the completions of many problems in two batched passes.

    All (gold, answer) pairs go to the grader at once, so duplicates across problems and
    seeds are graded once; clustering compares each problem's distinct answers in shared
    worker batches. A cluster whose members got different verdicts (math-verify is not
    transitive) takes its first member's, so the metrics' consistency rule holds.

    Returns:
        ``(labels, correct)``, one list per problem.
    """
    answers = [[extract_answer(c) for c in cs] for cs in completions]
    flat_gold = [g for g, a in zip(golds, answers) for _ in a]
    flat_ok = grader.grade(flat_gold, [x for a in answers for x in a])
    labels = grader.cluster_many(answers)
    correct: list[list[bool]] = []
    k = 0
    for lab in labels:
        ok = flat_ok[k : k + len(lab)]
        k += len(lab)
        first: dict[int, bool] = {}
        for label, verdict in zip(lab, ok):
            first.setdefault(label, verdict)
        correct.append([label >= 0 and first[label] for label in lab])
    return labels, correct


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
            )
        )
    return out


def _dedupe(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop repeated problems (overlapping chunks), keeping the first."""
    seen: set[str] = set()
    out = []
    for i, r in enumerate(rows):
        key = str(r.get("unique_id") or r.get("index", f"#{i}"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


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
