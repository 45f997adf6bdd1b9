"""Timing two ways of the same work in one process: a warm-up, alternating runs, medians."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any


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
