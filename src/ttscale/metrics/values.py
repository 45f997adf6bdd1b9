"""The value of each subset under each selection method (vectorised over subsets)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ttscale.metrics.problem import _finite_scores, _Problem

WEIGHTED_TIE_RTOL = 1e-10
"""Relative tolerance (vs. the sum of absolute scores in the subset) for tied weighted sums."""


def _naive_values(idx: np.ndarray, scores: np.ndarray, correct: np.ndarray) -> np.ndarray:
    s = scores[idx]
    tied = s == s.max(axis=1, keepdims=True)
    return (tied & correct[idx]).sum(axis=1) / tied.sum(axis=1)


@dataclass
class _Tally:
    """Per-subset vote counts and score sums per label (rows = subsets)."""

    counts: np.ndarray  # (rows, K) int64
    sums: np.ndarray | None  # (rows, K) float64 score sum per label (weighted only)
    scale: np.ndarray | None  # (rows,) sum of |score| over voting members (weighted only)

    def add(self, other: _Tally) -> None:
        self.counts += other.counts
        if self.sums is not None and other.sums is not None and self.scale is not None:
            self.sums += other.sums
            self.scale += other.scale


def _tally(idx: np.ndarray, prob: _Problem, weights: np.ndarray | None) -> _Tally:
    """Bincount-style tally of the completions ``idx`` (rows x members); ``-1`` never votes."""
    rows, k = idx.shape[0], prob.n_labels
    lab = prob.ids[idx]
    valid = lab >= 0
    flat = (np.arange(rows, dtype=np.int64)[:, None] * k + lab)[valid]
    counts = np.bincount(flat, minlength=rows * k).reshape(rows, k)
    if weights is None:
        return _Tally(counts, None, None)
    w = weights[idx][valid]
    sums = np.bincount(flat, weights=w, minlength=rows * k).reshape(rows, k)
    scale = np.bincount(np.nonzero(valid)[0], weights=np.abs(w), minlength=rows)
    return _Tally(counts, sums, scale)


def _vote_values(prob: _Problem, tally: _Tally, weighted: bool) -> np.ndarray:
    """Expected accuracy per row under uniform tie-breaking among the winning labels."""
    rows = tally.counts.shape[0]
    if prob.n_labels == 0:
        return np.zeros(rows)
    present = tally.counts > 0
    if weighted:
        assert tally.sums is not None and tally.scale is not None
        sums = np.where(present, tally.sums, -np.inf)  # absent labels never win
        threshold = sums.max(axis=1) - WEIGHTED_TIE_RTOL * tally.scale
        winners = present & (sums >= threshold[:, None])
    else:
        winners = present & (tally.counts == tally.counts.max(axis=1, keepdims=True))
    n_win = winners.sum(axis=1)
    n_ok = (winners & prob.label_correct).sum(axis=1)
    return np.divide(n_ok, n_win, out=np.zeros(rows), where=n_win > 0)


@functools.lru_cache(maxsize=32)
def _log_factorials(size: int) -> np.ndarray:
    out = np.array([math.lgamma(i + 1) for i in range(size + 1)])
    out.flags.writeable = False
    return out


def _score_levels(scores: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per distinct score: members ``m``, correct members ``c``, completions strictly below."""
    _, inv = np.unique(scores, return_inverse=True)
    inv = inv.reshape(-1)
    m = np.bincount(inv)
    c = np.bincount(inv, weights=correct)
    return m, c, np.cumsum(m) - m


def _naive_exact(levels: tuple[np.ndarray, ...], size: int, n: int) -> tuple[float, float]:
    """Exact mean/std of naive accuracy over all ``n``-subsets (closed form, ties included).

    The top score level of the subset is level ``s`` with ``j`` of its ``m`` members drawn with
    probability ``C(m, j) C(below, n - j) / C(N, n)``; given that, the number of correct members
    among the ``j`` is hypergeometric and the subset value is that number over ``j``.
    """
    m, c, below = levels
    jmax = np.minimum(m, n)
    level = np.repeat(np.arange(m.size), jmax)
    j = np.arange(level.size) - np.repeat(np.cumsum(jmax) - jmax, jmax) + 1
    mm, cc, bb = m[level], c[level], below[level]
    rest = n - j
    ok = rest <= bb  # enough lower-scored completions to fill the subset
    rest = np.where(ok, rest, 0)
    lf = _log_factorials(size)
    logp = (lf[mm] - lf[j] - lf[mm - j]) + (lf[bb] - lf[rest] - lf[bb - rest])
    logp -= lf[size] - lf[n] - lf[size - n]
    p = np.where(ok, np.exp(logp), 0.0)
    p /= p.sum()  # the events partition all subsets; removes lgamma rounding
    q = cc / mm  # P(a drawn member of the level is correct)
    var_x = j * q * (1.0 - q) * (mm - j) / np.maximum(mm - 1, 1)
    mean = float(np.sum(p * q))
    second = float(np.sum(p * (var_x + (j * q) ** 2) / j**2))
    return mean, math.sqrt(max(second - mean * mean, 0.0))


def _mean_std(vals: np.ndarray) -> tuple[float, float]:
    return float(vals.mean()), float(vals.std())


def _filtered_values(prob: _Problem, idx: np.ndarray, keep: float) -> np.ndarray:
    """DeepConf's offline vote per row: the top ``ceil(keep * n)`` members by score (ties:
    the earlier completion), then a score-weighted vote among them."""
    scores = _finite_scores(prob, "filtered")
    m = max(1, math.ceil(keep * idx.shape[1] - 1e-9))
    order = np.argsort(-scores[idx], axis=1, kind="stable")[:, :m]
    top = np.take_along_axis(idx, order, axis=1)
    return _vote_values(prob, _tally(top, prob, scores), True)


def _prefix_accuracy(prob: _Problem, n: int, method: str, keep: float = 1.0) -> float:
    idx = np.arange(n, dtype=np.intp)[None, :]
    if method == "filtered":
        return float(_filtered_values(prob, idx, keep)[0])
    if method == "naive":
        return float(_naive_values(idx, _finite_scores(prob, method), prob.correct)[0])
    weights = _finite_scores(prob, method) if method == "weighted" else None
    return float(_vote_values(prob, _tally(idx, prob, weights), method == "weighted")[0])
