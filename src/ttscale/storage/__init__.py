"""Where results live: the ``Store`` protocol, its registry, and the two stores.

``storage=local`` (:mod:`ttscale.storage.local`) and ``storage=hub``
(:mod:`ttscale.storage.hub`); chunk files (:mod:`ttscale.storage.chunks`) and names
(:mod:`ttscale.storage.naming`) are shared by both.
"""

from ttscale.errors import StorageError
from ttscale.files import atomic_write_bytes
from ttscale.storage.base import (
    MERGED,
    STORES,
    SUMMARY_KEY,
    ChunkError,
    IdentityError,
    Store,
    build_store,
)
from ttscale.storage.chunks import (
    check_identity,
    read_summary,
    read_valid_chunk,
    readable,
    rows_to_parquet,
    summary_json,
)
from ttscale.storage.local import LocalStore

STORES.add("hub", "ttscale.storage.hub:HubStore")

__all__ = [
    "MERGED",
    "STORES",
    "SUMMARY_KEY",
    "ChunkError",
    "IdentityError",
    "LocalStore",
    "Store",
    "StorageError",
    "atomic_write_bytes",
    "build_store",
    "check_identity",
    "read_summary",
    "read_valid_chunk",
    "readable",
    "rows_to_parquet",
    "summary_json",
]
