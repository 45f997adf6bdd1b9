"""Where results live: one protocol, two stores (``LocalStore`` here, ``HubStore`` in hub_store).

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

import io
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from ttscale.naming import chunk_name, parse_chunk_file, parse_chunk_name  # noqa: F401
from ttscale.registry import Registry

MERGED = "merged"


SUMMARY_KEY = b"ttscale.summary"


class ChunkError(ValueError):
    """A chunk that exists but does not validate; the message names it."""


class StorageError(OSError):
    """A results file that cannot be written (disk full, read-only, quota): one line."""


class IdentityError(ChunkError):
    """A valid chunk of another run (another fingerprint); the message names the keys."""


class Store(Protocol):
    """What the pipeline and the merge need from a place that holds results."""

    def check_writable(self) -> None: ...

    def chunk_path(self, run: str, start: int, end: int) -> str | Path: ...

    def has_chunk(self, run: str, start: int, end: int) -> bool:
        """True for a valid chunk of this run; :class:`IdentityError` for another run's."""
        ...

    def write_chunk(
        self, run: str, start: int, end: int, rows: list[dict[str, Any]], summary: dict[str, Any]
    ) -> str: ...

    def read_chunk(self, run: str, start: int, end: int) -> list[dict[str, Any]]: ...

    def list_chunks(self, run: str) -> list[tuple[int, int]]: ...

    def chunk_summary(self, run: str, start: int, end: int) -> dict[str, Any] | None: ...

    def write_merged(
        self, run: str, rows: list[dict[str, Any]], summary: dict[str, Any]
    ) -> str: ...


STORES: Registry[Store] = Registry("store")


def build_store(run: Any, options: Any = None, ident: dict[str, Any] | None = None) -> Store:
    """The store that ``run.storage`` names, for this run's identity (model, PRM, approach...).

    ``ident``: the run's identity when the caller has it already.
    """
    from ttscale.identity import identity, run_prefix

    ident = ident if ident is not None else identity(run, options)
    return STORES.get(run.storage.name).from_config(
        run.storage, prefix=run_prefix(run, options, ident), identity=ident
    )


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise StorageError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; results on a shared cluster should follow the umask.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)  # nothing half-written stays behind
        if isinstance(err, OSError):  # disk full, quota, read-only: the user's to fix
            raise StorageError(f"cannot write {path}: {err.strerror or err}") from None
        raise


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
STORES.add("hub", "ttscale.hub_store:HubStore")
