"""Where results live. ``LocalStore`` writes one parquet file per shard, atomically.

Layout: ``{results_dir}/{model}/{approach}/{run name}/chunk-{start}_{end}.parquet`` with a
``chunk-{start}_{end}.json`` summary beside it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from ttscale.naming import chunk_name


class Store(Protocol):
    def has_chunk(self, run: str, start: int, end: int) -> bool: ...

    def write_chunk(
        self, run: str, start: int, end: int, rows: list[dict[str, Any]], summary: dict[str, Any]
    ) -> str: ...

    def read_chunk(self, run: str, start: int, end: int) -> list[dict[str, Any]]: ...


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalStore:
    """Parquet chunks under ``root/prefix/run``."""

    def __init__(self, root: str | Path, prefix: str = "") -> None:
        self.root = Path(root)
        self.prefix = prefix

    def run_dir(self, run: str) -> Path:
        return self.root / self.prefix / run

    def chunk_path(self, run: str, start: int, end: int) -> Path:
        return self.run_dir(run) / f"{chunk_name(start, end)}.parquet"

    def has_chunk(self, run: str, start: int, end: int) -> bool:
        path = self.chunk_path(run, start, end)
        if not path.is_file():
            return False
        try:
            import pyarrow.parquet as pq

            return pq.read_metadata(path).num_rows == end - start
        except Exception:
            return False  # unreadable: it will be rewritten

    def write_chunk(
        self, run: str, start: int, end: int, rows: list[dict[str, Any]], summary: dict[str, Any]
    ) -> str:
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.chunk_path(run, start, end)
        # from_pylist takes its columns from the first row; rows may differ (an early-exit
        # problem has fewer pred_*@n columns), so give every row the union of the keys.
        keys = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows]), buf)
        atomic_write_bytes(path, buf.getvalue())
        atomic_write_bytes(
            path.with_suffix(".json"), json.dumps(summary, indent=2, default=str).encode()
        )
        return str(path)

    def read_chunk(self, run: str, start: int, end: int) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        return pq.read_table(self.chunk_path(run, start, end)).to_pylist()

    def check_writable(self) -> None:
        """Fail before any model loads if results cannot be written."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as err:
            raise PermissionError(
                f"storage.results_dir={str(self.root)!r} is not writable: {err.strerror}"
            ) from None
