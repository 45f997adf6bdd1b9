"""Results on a local disk (``storage=local``, the default): ``LocalStore``.

Local layout: ``{results_dir}/{model}/{prm}/{approach}/{fingerprint}/{run name}/`` (see
:func:`ttscale.identity.run_prefix`) holding ``chunk-{start}_{end}.parquet``; a merge writes
``merged.parquet`` in the same folder. Every file is written atomically (temp file + rename).

A chunk is its rows AND its summary in one file: the summary (run, identity, fingerprint,
metrics, config) is stored in the parquet's own metadata, so a chunk can never be complete
without it. A ``.json`` copy is written beside it for people and tools; readers never rely
on it.

A chunk *validates* when it is readable parquet with its summary, exactly ``end - start``
rows, unique problem ids, (when the ``index`` column is there) exactly the dataset rows
``[start, end)``, and the store's run identity. Anything else is a :class:`ChunkError`
naming the file; another run's chunk is an :class:`IdentityError` naming the keys that differ.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ttscale.errors import StorageError
from ttscale.files import atomic_write_bytes
from ttscale.storage.base import MERGED, STORES
from ttscale.storage.chunks import (
    read_summary,
    read_valid_chunk,
    readable,
    rows_to_parquet,
    summary_json,
)
from ttscale.storage.naming import chunk_name, parse_chunk_file


class LocalStore:
    """Parquet chunks under ``root/prefix/run``, checked against the run's ``identity``."""

    def __init__(
        self, root: str | Path, prefix: str = "", identity: dict[str, Any] | None = None
    ) -> None:
        self.root = Path(root)
        self.prefix = prefix
        self.identity = identity

    @classmethod
    def from_config(
        cls, storage: Any, *, prefix: str = "", identity: dict[str, Any] | None = None
    ) -> LocalStore:
        return cls(storage.results_dir, prefix, identity)

    def run_dir(self, run: str) -> Path:
        return self.root / self.prefix / run

    def chunk_path(self, run: str, start: int, end: int) -> Path:
        return self.run_dir(run) / f"{chunk_name(start, end)}.parquet"

    def merged_path(self, run: str) -> Path:
        return self.run_dir(run) / f"{MERGED}.parquet"

    def has_chunk(self, run: str, start: int, end: int) -> bool:
        """True iff the chunk exists and validates (a bad one will be rewritten).

        Raises:
            IdentityError: the chunk is valid but another run's: never overwritten silently.
        """
        if not self.chunk_path(run, start, end).is_file():
            return False
        return readable(lambda: self.read_chunk(run, start, end))

    def write_chunk(
        self, run: str, start: int, end: int, rows: list[dict[str, Any]], summary: dict[str, Any]
    ) -> str:
        path = self.chunk_path(run, start, end)
        atomic_write_bytes(path, rows_to_parquet(rows, summary))  # rows + summary: one file
        atomic_write_bytes(path.with_suffix(".json"), summary_json(summary))  # a copy to read
        return str(path)

    def read_chunk(self, run: str, start: int, end: int) -> list[dict[str, Any]]:
        """The chunk's rows; :class:`ChunkError` if it does not validate."""
        path = self.chunk_path(run, start, end)
        return read_valid_chunk(path, start, end, identity=self.identity)

    def chunk_summary(self, run: str, start: int, end: int) -> dict[str, Any] | None:
        """The summary stored in a chunk; None when absent or unreadable."""
        return read_summary(self.chunk_path(run, start, end))

    def list_chunks(self, run: str) -> list[tuple[int, int]]:
        """Ranges of the chunk files present for ``run`` (valid or not), sorted."""
        folder = self.run_dir(run)
        if not folder.is_dir():
            return []
        found = (parse_chunk_file(p.name) for p in folder.iterdir())
        return sorted(r for r in found if r is not None)

    def write_merged(self, run: str, rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
        path = self.merged_path(run)
        atomic_write_bytes(path, rows_to_parquet(rows, summary))
        atomic_write_bytes(path.with_suffix(".json"), summary_json(summary))
        return str(path)

    def check_writable(self) -> None:
        """Fail before any model loads if results cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as err:
            raise StorageError(
                f"storage.results_dir={str(self.root)!r} is not writable: {err.strerror}"
            ) from None


STORES.add("local", LocalStore)
