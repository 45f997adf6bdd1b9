"""Reduce a completion's step scores to one number."""

from __future__ import annotations

import math
from collections.abc import Sequence

STRATEGIES = ("last", "min", "prod", "mean")


def aggregate(scores: Sequence[float], strategy: str) -> float:
    """``last``, ``min``, ``prod`` or ``mean`` of the step scores; NaN for no steps.

    search-and-learn ignores its configured strategy and always uses ``last``; we honour it.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"agg_strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not scores:
        return math.nan
    if strategy == "last":
        return float(scores[-1])
    if strategy == "min":
        return float(min(scores))
    if strategy == "prod":
        return float(math.prod(scores))
    return float(sum(scores) / len(scores))
