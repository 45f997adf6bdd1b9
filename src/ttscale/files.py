"""The one atomic write: temp file in the same folder, fsync, rename, umask applied."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ttscale.errors import StorageError


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
