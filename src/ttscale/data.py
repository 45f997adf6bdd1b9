"""Datasets as lists of :class:`Problem`: the toy split, local files, or the Hub; shard ranges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ttscale.types import Problem


class DatasetError(ValueError):
    """A dataset that cannot be used as given; the message names the file and row."""


class JSONLRows(list):
    """Rows read from a JSONL file, with the line (counted from 1) each came from."""

    def __init__(self, rows: list[dict[str, Any]], lines: list[int]) -> None:
        super().__init__(rows)
        self.lines = lines


def load_rows(source: str, path: str | None, split: str, name: str) -> list[dict[str, Any]]:
    """Raw rows from ``source``: ``toy`` (embedded arith split), ``file`` or ``hub``."""
    if source == "toy":
        from ttscale.toyworld.problems import test_split

        if split != "test":
            raise DatasetError(f"dataset.split: the arith toy world has only 'test', got {split!r}")
        return [dict(r) for r in test_split()]
    if source == "file":
        return _read_file(Path(path or ""))
    if source == "hub":
        try:
            import datasets
        except ImportError:
            raise DatasetError(
                f"dataset.source=hub needs the `datasets` package (pip install datasets) to "
                f"load {path!r}; or download it and use dataset.source=file"
            ) from None
        try:
            return [dict(r) for r in datasets.load_dataset(path, split=split)]
        except Exception as err:  # no network, no such repo or split: the user's to fix
            raise DatasetError(
                f"dataset.path={path!r}, dataset.split={split!r}: cannot load it from the Hub "
                f"({type(err).__name__}: {err}); or download it and use dataset.source=file"
            ) from None
    raise DatasetError(f"dataset.source must be toy, file or hub, got {source!r} ({name})")


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"dataset.path: no such file {str(path)!r}")
    if path.suffix == ".parquet":
        rows = _read_parquet(path)
    elif path.suffix in (".jsonl", ".json"):
        try:
            text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is fine
        except UnicodeDecodeError as err:
            raise DatasetError(
                f"dataset.path: {path} is not UTF-8 text (byte {err.start})"
            ) from None
        if path.suffix == ".json" and text.lstrip().startswith("["):
            rows = _parse_json_array(path, text)
        else:
            rows = _parse_jsonl(path, text)
    else:
        raise DatasetError(f"dataset.path: {path} must end in .jsonl, .json or .parquet")
    if not rows:
        raise DatasetError(f"dataset.path: {path} has no rows")
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as err:  # ArrowInvalid, OSError: a truncated or foreign file
        raise DatasetError(f"dataset.path: {path} is not readable parquet ({err})") from None


def _parse_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    """One JSON object per line; errors name the line (counted from 1)."""
    rows, lines = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path}:{lineno}: malformed JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{lineno}: a row must be a JSON object")
        rows.append(row)
        lines.append(lineno)
    return JSONLRows(rows, lines)


def _parse_json_array(path: Path, text: str) -> list[dict[str, Any]]:
    """A JSON array of objects; errors name the line, or the row (counted from 0)."""
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DatasetError(f"{path} row {i}: a row must be a JSON object")
    return rows


MAX_REPORTED = 10
_CANONICAL = (
    "problem",
    "answer",
    "unique_id",
    "level",
)  # row columns ttscale fills itself  # bad rows listed in one error; a broken file should not flood the terminal


def to_problems(
    rows: list[dict[str, Any]],
    *,
    problem_key: str = "problem",
    answer_key: str = "answer",
    id_key: str | None = "unique_id",
    where: str = "dataset",
) -> list[Problem]:
    """Validate rows and turn them into problems.

    Raises:
        DatasetError: one line per bad row (the first ten), naming the row (counted from 0,
            as ``dataset.start``) and the field; then every duplicate id with its rows.
    """
    problems, errors, rows_of = [], [], {}
    for i, row in enumerate(rows):
        error = _row_error(row, problem_key, answer_key)
        if error:
            errors.append(f"{where} {_row_name(rows, [i])}: {error}")
            continue
        raw_id = row.get(id_key) if id_key else None
        if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int))):
            errors.append(
                f"{where} {_row_name(rows, [i])}: field {id_key!r} must be a string or an "
                f"integer, got {type(raw_id).__name__}"
            )
            continue
        uid = str(raw_id) if raw_id is not None else f"row-{i}"
        rows_of.setdefault(uid, []).append(i)
        level = row.get("level")
        # Every other source column travels into the output rows (MATH-500's solution and
        # subject: search-and-learn's evaluation reads them).
        extra = {k: v for k, v in row.items() if k not in _CANONICAL}
        q, a = row[problem_key], row[answer_key]
        problems.append(
            Problem(i, uid, q, str(a), int(level) if isinstance(level, int) else None, extra)
        )
    errors += [
        f"{where} {_row_name(rows, at)}: duplicate id {uid!r}"
        for uid, at in rows_of.items()
        if len(at) > 1
    ]
    if errors:
        more = len(errors) - MAX_REPORTED
        tail = [f"... and {more} more"] if more > 0 else []
        raise DatasetError("\n".join(errors[:MAX_REPORTED] + tail))
    return problems


def _row_name(rows: list[dict[str, Any]], at: list[int]) -> str:
    """``row 12`` or ``rows 0, 2``, with their lines for a JSONL file: ``row 12 (line 14)``."""
    lines = getattr(rows, "lines", None)
    name = f"row{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}"
    if lines:
        name += f" (line{'s' if len(at) > 1 else ''} {', '.join(str(lines[i]) for i in at)})"
    return name


def _row_error(row: dict[str, Any], problem_key: str, answer_key: str) -> str | None:
    """What is wrong with one row, or None."""
    for key in (problem_key, answer_key):
        if key not in row:
            return f"missing field {key!r} (has {sorted(row)})"
    q, a = row[problem_key], row[answer_key]
    if not isinstance(q, str) or not q.strip():
        return f"field {problem_key!r} must be a non-empty string"
    # Integer answers (AIME-style datasets) are read as strings; anything else is ambiguous.
    if isinstance(a, bool) or not isinstance(a, (str, int)):
        return f"field {answer_key!r} must be a string, got {type(a).__name__}"
    return None


def row_range(
    total: int, start: int | None, end: int | None, num_samples: int | None
) -> tuple[int, int]:
    """The dataset rows [lo, hi) a run covers, before sharding; errors name the key."""
    lo = start or 0
    hi = end if end is not None else total
    if lo >= total:
        raise DatasetError(f"dataset.start: {lo} is past the dataset's last row ({total} rows)")
    if hi > total:
        raise DatasetError(f"dataset.end: {hi} is past the dataset's end ({total} rows)")
    if num_samples is not None:
        hi = min(hi, lo + num_samples)
    return lo, hi


def shard_range(total: int, index: int, count: int) -> tuple[int, int]:
    """Rows [start, end) of shard ``index`` of ``count``: sizes differ by at most one.

    More shards than rows gives some empty shards (start == end).
    """
    if count < 1:
        raise ValueError(f"shard.count must be >= 1, got {count}")
    if not 0 <= index < count:
        raise ValueError(f"shard.index must be in [0, {count}), got {index}")
    base, extra = divmod(total, count)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)
