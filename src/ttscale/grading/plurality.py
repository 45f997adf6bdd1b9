"""The one plurality vote: which answer wins among a set of (possibly weighted) votes.

Ties go to the answer that appears first, the rule of search-and-learn's
``find_majority_answer`` and ``find_answer_with_largest_sum``, so our ``pred`` and
``pred_*@n`` columns pick what the anchor would pick from the same answer groups. (The
*metrics* never break ties this way: they report the expected accuracy over tied winners,
see :mod:`ttscale.metrics`.)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

__all__ = ["plurality"]


def plurality(
    keys: Sequence[Hashable | None], weights: Sequence[float] | None = None
) -> tuple[Hashable | None, float]:
    """The winning key and its total; None keys (no answer) never vote.

    Args:
        keys: One answer key per vote (a cluster label, a normalised answer, ...).
        weights: One weight per vote (PRM scores for weighted voting); 1 each when None.

    Returns:
        ``(winner, total)``: the key with the largest count or weight sum, the first to
        appear among equals; ``(None, 0)`` when nothing voted.
    """
    totals: dict[Hashable, float] = {}
    for i, key in enumerate(keys):
        if key is not None:
            totals[key] = totals.get(key, 0.0) + (1.0 if weights is None else weights[i])
    if not totals:
        return None, 0
    best = max(totals.values())
    winner = next(k for k, v in totals.items() if v == best)  # dicts keep first appearance
    return winner, (int(best) if weights is None else best)
