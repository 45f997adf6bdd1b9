"""Datasets as lists of :class:`Problem`: the toy split, local files, or the Hub; shard ranges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ttscale.types import Problem


class DatasetError(ValueError):
    """A dataset that cannot be used as given; the message names the file and row."""


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
        except ImportError as err:  # pragma: no cover - depends on the install
            raise DatasetError(
                f"dataset.source=hub needs the `datasets` package (pip install datasets) to "
                f"load {path!r}; or download it and use dataset.source=file"
            ) from err
        return [dict(r) for r in datasets.load_dataset(path, split=split)]  # pragma: no cover
    raise DatasetError(f"dataset.source must be toy, file or hub, got {source!r} ({name})")


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"dataset.path: no such file {str(path)!r}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    elif path.suffix in (".jsonl", ".json"):
        rows = []
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json" and text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            for lineno, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DatasetError(f"{path}:{lineno}: malformed JSON ({err.msg})") from err
                if not isinstance(row, dict):
                    raise DatasetError(f"{path}:{lineno}: a row must be a JSON object")
                rows.append(row)
    else:
        raise DatasetError(f"dataset.path: {path} must end in .jsonl, .json or .parquet")
    if not rows:
        raise DatasetError(f"dataset.path: {path} has no rows")
    return rows


def to_problems(
    rows: list[dict[str, Any]],
    *,
    problem_key: str = "problem",
    answer_key: str = "answer",
    id_key: str | None = "unique_id",
    where: str = "dataset",
) -> list[Problem]:
    """Validate rows and turn them into problems. Errors name the row and the field."""
    problems, seen = [], {}
    for i, row in enumerate(rows):
        for key in (problem_key, answer_key):
            if key not in row:
                raise DatasetError(f"{where} row {i}: missing field {key!r} (has {sorted(row)})")
        q, a = row[problem_key], row[answer_key]
        if not isinstance(q, str) or not q.strip():
            raise DatasetError(f"{where} row {i}: field {problem_key!r} must be a non-empty string")
        if isinstance(a, bool) or not isinstance(a, (str, int)):
            raise DatasetError(
                f"{where} row {i}: field {answer_key!r} must be a string, got {type(a).__name__}"
            )
        uid = str(row[id_key]) if id_key and row.get(id_key) is not None else f"row-{i}"
        if uid in seen:
            raise DatasetError(f"{where} rows {seen[uid]} and {i}: duplicate id {uid!r}")
        seen[uid] = i
        level = row.get("level")
        extra = {
            k: v for k, v in row.items() if k not in (problem_key, answer_key, id_key, "level")
        }
        problems.append(
            Problem(i, uid, q, str(a), int(level) if isinstance(level, int) else None, extra)
        )
    return problems


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
