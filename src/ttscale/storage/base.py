"""The store seam: the protocol the pipeline and the merge use, its registry and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ttscale.registry import Registry

MERGED = "merged"
SUMMARY_KEY = b"ttscale.summary"  # the chunk's summary, inside the parquet's own metadata


class ChunkError(ValueError):
    """A chunk that exists but does not validate; the message names it."""


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


def build_store(run: Any, ident: dict[str, Any] | None = None) -> Store:
    """The store that ``run.storage`` names, for this run's identity (model, PRM, approach...).

    ``ident``: the run's identity when the caller has it already.
    """
    from ttscale.identity import identity, run_prefix

    ident = ident if ident is not None else identity(run)
    return STORES.get(run.storage.name).from_config(
        run.storage, prefix=run_prefix(run, ident), identity=ident
    )
