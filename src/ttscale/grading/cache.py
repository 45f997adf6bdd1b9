"""The verdict cache on disk: one JSON file, merged under a lock, written atomically."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from ttscale.files import atomic_write_bytes

logger = logging.getLogger(__name__)

FORMAT = "ttscale.grading/v1"
Verdicts = dict[tuple[str, str], bool]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (``flock``) on ``path``; a no-op where fcntl is missing."""
    try:
        import fcntl
    except ImportError:  # Windows: atomic replace still keeps the file whole
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _math_verify_version() -> str:
    try:
        from importlib.metadata import version

        return version("math-verify")
    except Exception:
        return "unknown"


def read_cache(path: Path) -> tuple[Verdicts, Verdicts, set[str]]:
    """(grade verdicts, equivalence verdicts, answers known to time out) of a cache file.

    A missing, unreadable or foreign file (another math-verify version) reads as empty.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        if data.get("math_verify") != _math_verify_version():
            logger.warning("ignoring %s: written by another math-verify version", path)
            return {}, {}, set()
        grade = {(g, a): bool(v) for g, a, v in data["grade"]}
        equiv = {(a, b): bool(v) for a, b, v in data["equiv"]}
        return grade, equiv, {str(a) for a in data.get("slow", [])}
    except FileNotFoundError:
        return {}, {}, set()
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("ignoring unreadable grading cache %s: %s", path, e)
        return {}, {}, set()


def merge_cache(target: Path, grade: Verdicts, equiv: Verdicts, slow: set[str]) -> None:
    """Merge verdicts into ``target``, keeping entries another process added meanwhile.

    The lock makes read-merge-replace one step, so concurrent savers lose no entries; the
    atomic write means a reader never sees half a file even without it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_name(target.name + ".lock")):
        old_grade, old_equiv, old_slow = read_cache(target)
        data = {
            "format": FORMAT,
            "math_verify": _math_verify_version(),
            "grade": [[g, a, v] for (g, a), v in (old_grade | grade).items()],
            "equiv": [[a, b, v] for (a, b), v in (old_equiv | equiv).items()],
            "slow": sorted(old_slow | slow),
        }
        atomic_write_bytes(target, json.dumps(data, ensure_ascii=False).encode("utf-8"))
