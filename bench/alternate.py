"""Timing for the bench scripts: two ways of the same work alternating in one process (a
warm-up, medians), and the wall time of one command."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def timed_command(cmd: list[str], cwd: Path) -> float:
    """Wall seconds of ``cmd`` run to its end, output captured; a failure ends the benchmark
    with the command's output tails."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n"
                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")  # fmt: skip
    return seconds


def replay_both(
    replay: Callable[[Any, Sequence[Any]], tuple[Any, float]],
    new: Any,
    old: Any,
    calls: Sequence[Any],
    repeats: int,
) -> tuple[tuple[Any, Any], tuple[float, float]]:
    """Replay ``calls`` on ``new`` and ``old`` in turn, ``repeats`` times each.

    ``replay(way, calls)`` returns (its output, seconds). A first call on each way warms it
    up (first-call overheads hit neither timing); the ways alternate so that drifting machine
    load hits both. Returns the last (new, old) outputs and their median seconds.
    """
    replay(new, calls[:1])
    replay(old, calls[:1])
    out: dict[str, Any] = {}
    times: dict[str, list[float]] = {"new": [], "old": []}
    for _ in range(repeats):
        for name, way in (("new", new), ("old", old)):
            out[name], seconds = replay(way, calls)
            times[name].append(seconds)
    return (out["new"], out["old"]), (
        statistics.median(times["new"]),
        statistics.median(times["old"]),
    )
