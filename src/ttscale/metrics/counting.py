"""pass@k, G-Pass@k, avg@N, the powers of two up to N, and ROC AUC."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ttscale.metrics.problem import _as_correct, _check_int


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator ``1 - C(n - c, k) / C(n, k)``.

    Computed in the numerically stable product form of the Codex paper (Chen et al., 2021):
    ``1 - prod_{i = n - c + 1}^{n} (1 - k / i)``.

    Args:
        n: Number of samples (>= 1).
        c: Number of correct samples (``0 <= c <= n``).
        k: Subset size (``1 <= k <= n``).

    Returns:
        Probability that a uniformly random ``k``-subset contains a correct sample.

    Raises:
        TypeError: If an argument is not an integer.
        ValueError: If an argument is out of range (the message names it).
    """
    n = _check_int(n, "n")
    c = _check_int(c, "c")
    k = _check_int(k, "k")
    if n < 1:
        raise ValueError(f"n must be >= 1, got n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k must satisfy 1 <= k <= n, got k={k}, n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"c must satisfy 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


G_PASS_TAUS = (0.5, 0.75, 1.0)


def g_pass_at_k(n: int, c: int, k: int, tau: float) -> float:
    """G-Pass@k_tau (Liu et al., 2024, arXiv 2412.13147; lighteval's ``GPassAtK``).

    The probability that a uniformly random ``k``-subset of the ``n`` samples holds at least
    ``ceil(tau * k)`` correct ones: ``sum_{j >= ceil(tau k)} C(c, j) C(n - c, k - j) / C(n, k)``.
    tau -> 0 is pass@k; tau = 1 asks every one of the k to be right (stability).
    """
    n, c, k = _check_int(n, "n"), _check_int(c, "c"), _check_int(k, "k")
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"need 1 <= k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    if not 0 < tau <= 1:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    need = math.ceil(tau * k - 1e-12)
    total = math.comb(n, k)
    return sum(math.comb(c, j) * math.comb(n - c, k - j) for j in range(need, k + 1)) / total


def mg_pass_at_k(n: int, c: int, k: int) -> float:
    """mG-Pass@k as the paper and lighteval define it: ``2/k sum_{i=ceil(k/2)+1}^{k}
    G-Pass@k_{i/k}`` (for odd k the sum has (k-1)/2 terms, so its maximum is (k-1)/k; for
    k = 1 it is empty: 0)."""
    start = math.ceil(0.5 * k) + 1
    return 2 / k * sum(g_pass_at_k(n, c, k, i / k) for i in range(start, k + 1))


def avg_at_n(correct: ArrayLike) -> float:
    """Mean correctness of single samples, ``c / N``.

    Args:
        correct: Per-completion correctness (bools or 0/1), non-empty, 1-D.

    Returns:
        Fraction of correct completions.
    """
    return float(_as_correct(correct, None).mean())


def powers_of_two(N: int) -> list[int]:
    """Subset sizes ``1, 2, 4, ...`` up to ``N``, with ``N`` appended if not a power of two.

    Args:
        N: Number of completions (>= 1).

    Returns:
        Increasing list of sizes ending with ``N``.
    """
    N = _check_int(N, "N")
    if N < 1:
        raise ValueError(f"N must be >= 1, got N={N}")
    out = [1 << i for i in range(N.bit_length()) if 1 << i <= N]
    if out[-1] != N:
        out.append(N)
    return out


def auc(scores: ArrayLike, positive: ArrayLike) -> float:
    """ROC AUC: P(score of a random positive > a random negative), ties counting half.

    Mann-Whitney U with mid-ranks; NaN when either class is empty.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # mid-rank of each run of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    ranks = np.empty(len(s))
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b - 1) / 2 + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
