"""The project's own error types (no dependencies: any module may raise them)."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid config; the message names each offending key."""


class StorageError(OSError):
    """A results file that cannot be written (disk full, read-only, quota): one line."""
