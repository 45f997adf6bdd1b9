"""A trace's confidence from its own token log-probabilities: pure functions, no model.

Per token (``top`` are the k best log-probabilities at that position, highest first):

- DeepConf's token confidence (arXiv 2508.15260): ``C = -mean(top)``; high when the model's
  few best candidates are all unlikely, i.e. the distribution is peaked.
- Self-certainty (arXiv 2502.18581): ``KL(U || p) = -log V - mean_j log p_j`` over the
  vocabulary. From the k best only, the distribution is renormalised over them (V = k); with
  k >= the vocabulary (possible on the hf backend) that is the paper's exact value.

Per trace (higher is more confident, for every measure):

- ``mean``: the mean token confidence;
- ``lowest_group``: the lowest mean over a sliding window of ``window`` tokens;
- ``bottom``: the mean of the lowest ``bottom`` share of those window means;
- ``tail``: the mean over the last ``tail`` tokens.
A trace shorter than the window is one group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MEASURES = ("mean", "lowest_group", "bottom", "tail")


def token_confidence(top: Sequence[float]) -> float:
    """DeepConf's ``C_i = -(1/k) sum_j log P_i(j)`` over the k best candidates."""
    return -sum(top) / len(top)


def token_self_certainty(top: Sequence[float]) -> float:
    """``KL(U || p)`` with ``p`` renormalised over the given candidates (>= 0)."""
    k = len(top)
    m = max(top)
    log_z = m + math.log(sum(math.exp(v - m) for v in top))
    return -math.log(k) - sum(v - log_z for v in top) / k


def group_means(values: Sequence[float], window: int) -> list[float]:
    """Means over every window of ``window`` consecutive tokens (one group if shorter)."""
    if not values:
        return []
    if len(values) <= window:
        return [sum(values) / len(values)]
    out, run = [], sum(values[:window])
    out.append(run / window)
    for i in range(window, len(values)):
        run += values[i] - values[i - window]
        out.append(run / window)
    return out


def trace_confidence(
    values: Sequence[float], measure: str, *, window: int, bottom: float, tail: int
) -> float:
    """One number per trace from its per-token values (NaN for an empty trace)."""
    if not values:
        return math.nan
    if measure == "mean":
        return sum(values) / len(values)
    if measure == "tail":
        last = values[-tail:]
        return sum(last) / len(last)
    groups = group_means(values, window)
    if measure == "lowest_group":
        return min(groups)
    if measure == "bottom":
        low = sorted(groups)[: max(1, math.ceil(bottom * len(groups)))]
        return sum(low) / len(low)
    raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
