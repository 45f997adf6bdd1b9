"""Accuracy metrics for test-time scaling: pass@k, avg@N and best-of-n selection.

Every problem has ``N`` sampled completions, described by three parallel arrays:

* ``labels``: answer-cluster id per completion (int >= 0; completions whose final answers are
  equivalent share an id). ``-1`` means "no answer extracted".
* ``correct``: correctness per completion. It must be equal for all members of a cluster, and a
  ``-1`` completion is always incorrect (both are validated, a violation raises ``ValueError``).
* ``scores``: aggregated PRM score per completion; NaN (or ``None`` for the whole array) when no
  PRM was used. Only ``naive`` and ``weighted`` need scores, and they need finite ones.

Selection methods on a subset of the completions:

* ``naive``: the completion with the highest score is chosen ("pick the highest scored
  completion"). A ``-1`` completion CAN be the top-scored one; the subset then scores 0. Scores
  are compared exactly (no arithmetic is involved).
* ``weighted``: scores are summed per answer label (``-1`` excluded); the largest sum wins. Sums
  whose difference is within floating-point rounding (``WEIGHTED_TIE_RTOL`` times the sum of the
  absolute scores in the subset) count as tied, so a result never depends on summation order.
* ``maj``: the most frequent label (``-1`` excluded) wins.

``-1`` completions never vote and never win ``weighted``/``maj``; a subset without a voting
completion scores 0. Ties are broken uniformly at random and the EXPECTED accuracy is reported: a
subset scores (tied winners that are correct) / (tied winners), where the tied winners are labels
for ``weighted``/``maj`` and completions for ``naive``. Each subset's value is therefore a
deterministic function of the subset.

The metric at size ``n`` is the distribution of that value over subsets of size ``n``:

* ``mode="random"`` (default): subsets drawn uniformly without replacement; the mean and the
  (population, ``ddof=0``) std across subsets are reported.

  - ``naive``: exact closed form for every ``n`` (mean AND std): the probability that the top
    score level of a random ``n``-subset is a given level, with ``j`` of its members drawn, is
    ``C(m, j) C(below, n - j) / C(N, n)``; the correct count among those ``j`` is
    hypergeometric. ``draws`` and ``seed`` are not used.
  - ``weighted``/``maj``: exact enumeration of all subsets when ``C(N, n) <= draws`` (and always
    for ``n == 1``, where the ``N`` singletons are enumerated); otherwise Monte Carlo over
    ``draws`` random subsets, vectorised as a ``draws x n`` index matrix with bincount tallies.
    Subset ``r`` of size ``n`` is the first ``n`` entries of random permutation ``r``, so the
    Monte Carlo subsets are nested across sizes and shared by both methods (common random
    numbers: smoother curves, same estimator variance at each ``n``), and
    :func:`problem_metrics` extends its tallies incrementally from one size to the next.

* ``mode="prefix"``: only ``completions[:n]`` is used (the compatibility mode of the
  search-and-learn repository, except that ties use the expected value, not the first index);
  the std is 0.

The permutations derive only from ``seed`` in :func:`subset_accuracy` and from ``(seed, key)`` in
:func:`problem_metrics` (``key``: problem index or id), so a problem's result never depends on
evaluation order, on the other problems, or on which other sizes were computed.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

Method = Literal["naive", "weighted", "maj"]
Mode = Literal["random", "prefix"]

METHODS: tuple[str, ...] = ("naive", "weighted", "maj")
MODES: tuple[str, ...] = ("random", "prefix")
WEIGHTED_TIE_RTOL = 1e-10
"""Relative tolerance (vs. the sum of absolute scores in the subset) for tied weighted sums."""

_SCORED_METHODS = ("naive", "weighted")
_WORD = 1 << 32


# --------------------------------------------------------------------------------------------
# pass@k, avg@N, sizes
# --------------------------------------------------------------------------------------------


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


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


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _as_correct(correct: ArrayLike, size: int | None) -> np.ndarray:
    arr = np.asarray(correct)
    if arr.ndim != 1:
        raise ValueError(f"correct must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("correct must not be empty")
    if size is not None and arr.size != size:
        raise ValueError(f"correct has length {arr.size}, labels has length {size}")
    if arr.dtype != np.bool_:
        if not (np.issubdtype(arr.dtype, np.number) and np.isin(arr, (0, 1)).all()):
            raise ValueError("correct must contain only booleans or 0/1")
        arr = arr.astype(bool)
    return arr


@dataclass(frozen=True)
class _Problem:
    """Validated arrays of one problem, labels remapped to compact ids ``0..K-1``."""

    ids: np.ndarray  # int64, -1 = no answer
    correct: np.ndarray  # bool per completion
    scores: np.ndarray | None  # float64 per completion, may hold NaN
    label_correct: np.ndarray  # bool per compact id
    n_labels: int

    @property
    def size(self) -> int:
        return int(self.ids.size)


def _prepare(labels: ArrayLike, correct: ArrayLike, scores: ArrayLike | None) -> _Problem:
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {lab.shape}")
    if lab.size == 0:
        raise ValueError("labels must not be empty")
    if not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
    if (lab < -1).any():
        raise ValueError("labels must be >= -1 (-1 means no answer extracted)")
    ok = _as_correct(correct, lab.size)
    if (ok & (lab == -1)).any():
        raise ValueError("a completion with label -1 (no answer) is marked correct")
    uniq, inv = np.unique(lab, return_inverse=True)
    inv = inv.reshape(-1)
    has_none = bool(uniq[0] == -1)
    ids = inv.astype(np.int64) - int(has_none)
    n_labels = int(uniq.size - has_none)
    voting = ids >= 0
    size = np.bincount(ids[voting], minlength=n_labels)
    n_ok = np.bincount(ids[voting], weights=ok[voting], minlength=n_labels)
    mixed = (n_ok > 0) & (n_ok < size)
    if mixed.any():
        bad = uniq[int(has_none) :][mixed].tolist()
        raise ValueError(f"correctness differs within answer cluster(s) {bad}")
    sc = None
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float64)
        if sc.shape != lab.shape:
            raise ValueError(f"scores has shape {sc.shape}, labels has shape {lab.shape}")
    return _Problem(ids=ids, correct=ok, scores=sc, label_correct=n_ok > 0, n_labels=n_labels)


def _finite_scores(prob: _Problem, method: str) -> np.ndarray:
    sc = prob.scores
    if sc is None or np.isnan(sc).all():
        raise ValueError(
            f"no PRM scores: method {method!r} needs them but scores are None or all NaN; "
            "only 'maj' can be computed without a PRM"
        )
    if not np.isfinite(sc).all():
        bad = np.flatnonzero(~np.isfinite(sc)).tolist()
        raise ValueError(f"method {method!r} needs finite scores; non-finite at indices {bad}")
    return sc


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _check_n(n: int, size: int) -> int:
    n = _check_int(n, "n")
    if not 1 <= n <= size:
        raise ValueError(f"n must satisfy 1 <= n <= N, got n={n}, N={size}")
    return n


def _check_draws(draws: int) -> int:
    draws = _check_int(draws, "draws")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got draws={draws}")
    return draws


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


def _seed_words(seed: int | Sequence[int]) -> tuple[int, ...]:
    items = [seed] if isinstance(seed, (int, np.integer)) else list(seed)
    words = tuple(_check_int(s, "seed") for s in items)
    for w in words:
        if not 0 <= w < 1 << 64:
            raise ValueError(f"seed values must be in [0, 2**64), got {w}")
    return words


def _key_word(key: int | str) -> int:
    if isinstance(key, str):
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    return _seed_words(key)[0]


def _random_keys(words: tuple[int, ...], draws: int, size: int) -> np.ndarray:
    """``draws x size`` uniform keys; row ``r`` sorted gives random permutation ``r``."""
    # Fixed layout [len, lo0, hi0, lo1, hi1, ...]: distinct seeds never collide (SeedSequence
    # would otherwise treat trailing zero words as absent, e.g. (0,) vs (0, 0)).
    entropy = [len(words)]
    for w in words:
        entropy += [w % _WORD, w // _WORD]
    return np.random.default_rng(np.random.SeedSequence(entropy)).random((draws, size))


def _enumerated(size: int, n: int, draws: int) -> np.ndarray | None:
    """All ``n``-subsets as rows if there are at most ``draws`` of them (or ``n == 1``)."""
    if n == 1:
        return np.arange(size, dtype=np.intp)[:, None]
    if math.comb(size, n) <= draws:
        combos = itertools.chain.from_iterable(itertools.combinations(range(size), n))
        return np.fromiter(combos, dtype=np.intp).reshape(-1, n)
    return None


# --------------------------------------------------------------------------------------------
# Subset values
# --------------------------------------------------------------------------------------------


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


def _prefix_accuracy(prob: _Problem, n: int, method: str) -> float:
    idx = np.arange(n, dtype=np.intp)[None, :]
    if method == "naive":
        return float(_naive_values(idx, _finite_scores(prob, method), prob.correct)[0])
    weights = _finite_scores(prob, method) if method == "weighted" else None
    return float(_vote_values(prob, _tally(idx, prob, weights), method == "weighted")[0])


# --------------------------------------------------------------------------------------------
# Public per-problem API
# --------------------------------------------------------------------------------------------


def subset_accuracy(
    labels: ArrayLike,
    correct: ArrayLike,
    scores: ArrayLike | None,
    n: int,
    method: Method,
    *,
    draws: int = 100,
    seed: int | Sequence[int] = 0,
    mode: Mode = "random",
) -> tuple[float, float]:
    """Expected accuracy of a selection method on subsets of ``n`` completions of one problem.

    See the module docstring for the exact semantics (ties, ``-1`` labels, exactness).

    Args:
        labels: Answer-cluster id per completion (``-1``: no answer).
        correct: Correctness per completion (consistent within clusters).
        scores: PRM score per completion, or ``None``; needed (finite) for naive/weighted.
        n: Subset size, ``1 <= n <= N``.
        method: ``"naive"``, ``"weighted"`` or ``"maj"``.
        draws: Monte Carlo subsets; all subsets are enumerated when ``C(N, n) <= draws``.
        seed: Non-negative int or sequence of ints (each < 2**64) the random subsets derive
            from; ``seed=(s, key)`` reproduces ``problem_metrics(..., seed=s, key=key)``.
        mode: ``"random"`` (uniform subsets without replacement) or ``"prefix"``
            (``completions[:n]`` only, std 0).

    Returns:
        ``(mean, std)`` of the per-subset accuracy; the std is across subsets (``ddof=0``).

    Raises:
        ValueError: On malformed inputs, or when naive/weighted get no (finite) scores.
    """
    _check_method(method)
    _check_mode(mode)
    prob = _prepare(labels, correct, scores)
    n = _check_n(n, prob.size)
    draws = _check_draws(draws)
    words = _seed_words(seed)
    if mode == "prefix":
        return _prefix_accuracy(prob, n, method), 0.0
    if method == "naive":
        scores_ = _finite_scores(prob, method)
        return _naive_exact(_score_levels(scores_, prob.correct), prob.size, n)
    weights = _finite_scores(prob, method) if method == "weighted" else None
    idx = _enumerated(prob.size, n, draws)
    if idx is None:
        # The n smallest keys of each row = the first n entries of that row's permutation,
        # exactly the subsets problem_metrics uses.
        idx = np.argpartition(_random_keys(words, draws, prob.size), n - 1, axis=1)[:, :n]
    return _mean_std(_vote_values(prob, _tally(idx, prob, weights), method == "weighted"))


def problem_metrics(
    labels: ArrayLike,
    correct: ArrayLike,
    scores: ArrayLike | None = None,
    *,
    ns: Iterable[int] | None = None,
    draws: int = 100,
    seed: int = 0,
    key: int | str | None = None,
    mode: Mode = "random",
    methods: Sequence[str] = METHODS,
) -> dict[str, float]:
    """All metrics of one problem.

    Keys are ``f"{method}@{n}"`` and ``f"pass@{n}"`` for each ``n`` in ``ns``, plus
    ``f"avg@{N}"`` with the real ``N`` (e.g. ``"avg@16"``). ``pass@n`` is the unbiased estimator
    in random mode and ``any(correct[:n])`` in prefix mode. Means only; use
    :func:`subset_accuracy` for the std.

    Args:
        labels: Answer-cluster id per completion (``-1``: no answer).
        correct: Correctness per completion.
        scores: PRM score per completion, or ``None``/all NaN (then ask only for ``"maj"``).
        ns: Subset sizes; defaults to :func:`powers_of_two` of ``N``.
        draws: Monte Carlo subsets per size (see :func:`subset_accuracy`).
        seed: Non-negative base seed.
        key: Problem index or id (str keys are hashed with SHA-256). The random subsets
            derive from ``(seed, key)`` (from ``seed`` alone if None, which reuses the same
            subset indices for every problem), so results do not depend on evaluation order;
            matches ``subset_accuracy(..., seed=(seed, key))`` for int keys.
        mode: ``"random"`` or ``"prefix"``.
        methods: Subset of ``("naive", "weighted", "maj")``.

    Returns:
        Mapping from metric name to value for this problem.
    """
    _check_mode(mode)
    for method in methods:
        _check_method(method)
    prob = _prepare(labels, correct, scores)
    size = prob.size
    sizes = powers_of_two(size) if ns is None else sorted({_check_n(n, size) for n in ns})
    for method in methods:
        if method in _SCORED_METHODS:
            _finite_scores(prob, method)
    draws = _check_draws(draws)
    words = _seed_words(seed) + (() if key is None else (_key_word(key),))
    n_correct = int(prob.correct.sum())
    weights = prob.scores if "weighted" in methods else None
    voting = [m for m in methods if m != "naive"]
    levels = None
    perms: np.ndarray | None = None  # draws random permutations, shared by all n and methods
    running: _Tally | None = None  # tally of perms[:, :done]
    done = 0
    out: dict[str, float] = {}
    for n in sizes:
        if mode == "prefix":
            for method in methods:
                out[f"{method}@{n}"] = _prefix_accuracy(prob, n, method)
            out[f"pass@{n}"] = float(prob.correct[:n].any())
            continue
        row: dict[str, float] = {}
        if "naive" in methods:
            if levels is None:
                levels = _score_levels(_finite_scores(prob, "naive"), prob.correct)
            row["naive"] = _naive_exact(levels, size, n)[0]
        if voting:
            idx = _enumerated(size, n, draws)
            if idx is not None:
                tally = _tally(idx, prob, weights)
            else:
                if perms is None:
                    perms = np.argsort(_random_keys(words, draws, size), axis=1)
                step = _tally(perms[:, done:n], prob, weights)
                if running is None:
                    running = step
                else:
                    running.add(step)
                done, tally = n, running
            for method in voting:
                row[method] = float(_vote_values(prob, tally, method == "weighted").mean())
        for method in methods:
            out[f"{method}@{n}"] = row[method]
        out[f"pass@{n}"] = pass_at_k(size, n_correct, n)
    out[f"avg@{size}"] = n_correct / size
    return out


def aggregate(
    problems: Sequence[Mapping[str, float]],
    *,
    missing: Literal["error", "drop"] = "error",
) -> dict[str, float]:
    """Mean of each metric across problems.

    A key is only averaged when every problem has it, so no mean is silently taken over a
    varying subset of problems (e.g. problems with different ``N`` have different keys).

    Args:
        problems: Per-problem dicts from :func:`problem_metrics`.
        missing: ``"error"`` raises ``ValueError`` if the problems' key sets differ;
            ``"drop"`` keeps only the keys present in every problem.

    Returns:
        Mapping from metric name to its mean over problems (key order of the first problem).
    """
    if missing not in ("error", "drop"):
        raise ValueError(f"missing must be 'error' or 'drop', got {missing!r}")
    if not problems:
        raise ValueError("aggregate needs at least one problem")
    common = set(problems[0]).intersection(*problems[1:])
    every = set(problems[0]).union(*problems[1:])
    if missing == "error" and common != every:
        raise ValueError(
            f"metric keys differ between problems (not in all: {sorted(every - common)}); "
            "pass missing='drop' to keep only the shared keys"
        )
    order = [k for k in problems[0] if k in common]
    return {k: math.fsum(float(p[k]) for p in problems) / len(problems) for k in order}


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
