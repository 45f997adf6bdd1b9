"""A chunk file: rows and summary in one parquet, and the checks a reader makes of it."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ttscale.storage.base import SUMMARY_KEY, ChunkError, IdentityError


def rows_to_parquet(rows: list[dict[str, Any]], summary: dict[str, Any] | None = None) -> bytes:
    """Rows as parquet bytes, every row given the union of all rows' keys.

    ``summary`` is stored in the file's own metadata (:data:`SUMMARY_KEY`), so rows and
    summary are written, and replaced, as one file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    # from_pylist takes its columns from the first row; rows may differ (an early-exit
    # problem has fewer pred_*@n columns), so give every row the union of the keys.
    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])
    if summary is not None:
        meta = dict(table.schema.metadata or {})
        meta[SUMMARY_KEY] = summary_json(summary)
        table = table.replace_schema_metadata(meta)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def summary_json(summary: dict[str, Any]) -> bytes:
    return json.dumps(summary, indent=2, default=str).encode()


def read_summary(source: str | Path) -> dict[str, Any] | None:
    """The summary stored inside a parquet file; None when it has none or is unreadable."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(source).metadata or {}
        data = json.loads(meta[SUMMARY_KEY])
    except Exception:  # unreadable file, no summary, bad JSON: all mean "no summary"
        return None
    return data if isinstance(data, dict) else None


def check_identity(
    summary: dict[str, Any] | None, expected: dict[str, Any] | None, name: str
) -> None:
    """Raise :class:`IdentityError` unless ``summary`` was written by a run of ``expected``."""
    from ttscale.identity import differences, fingerprint

    if expected is None or summary is None:
        return
    if summary.get("fingerprint") != fingerprint(expected):
        diff = "; ".join(differences(summary.get("identity"), expected))
        raise IdentityError(f"{name}: written by a run with other settings ({diff})")


def read_valid_chunk(
    source: str | Path,
    start: int,
    end: int,
    *,
    name: str | None = None,
    identity: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Read a chunk and check it holds its summary and exactly the rows ``[start, end)``.

    Args:
        identity: When given, the chunk must have been written by a run of this identity.

    Raises:
        ChunkError: naming the chunk (``name``, else ``source``) if it is unreadable, has no
            summary, is truncated, or holds other rows.
        IdentityError: a valid chunk of another run, naming the settings that differ.
    """
    import pyarrow.parquet as pq

    name = name or str(source)
    try:
        rows = pq.read_table(source).to_pylist()
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise ChunkError(f"{name}: unreadable parquet ({type(err).__name__}: {err})") from None
    summary = read_summary(source)
    if summary is None:
        raise ChunkError(f"{name}: no summary inside the file (a partial or foreign write)")
    if len(rows) != end - start:
        raise ChunkError(f"{name}: has {len(rows)} rows, expected {end - start}")
    counts = Counter(r["unique_id"] for r in rows if r.get("unique_id") is not None)
    dup = sorted(str(i) for i, c in counts.items() if c > 1)
    if dup:
        raise ChunkError(f"{name}: duplicate problem ids {dup[:5]}")
    if rows and "index" in rows[0] and sorted(r["index"] for r in rows) != list(range(start, end)):
        raise ChunkError(f"{name}: its rows are not the dataset rows [{start}, {end})")
    check_identity(summary, identity, name)
    return rows


def readable(read: Any) -> bool:
    """Whether ``read()`` returns a valid chunk: False for an invalid one (it is redone);
    another run's chunk raises :class:`IdentityError` (it is never redone silently)."""
    try:
        read()
    except IdentityError:
        raise
    except ChunkError:
        return False
    return True
