"""The public per-problem API: subset accuracy, all metrics of a problem, their mean."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ttscale.metrics.counting import (
    G_PASS_TAUS,
    g_pass_at_k,
    mg_pass_at_k,
    pass_at_k,
    powers_of_two,
)
from ttscale.metrics.problem import (
    _check_draws,
    _check_method,
    _check_mode,
    _check_n,
    _enumerated,
    _finite_scores,
    _key_word,
    _prepare,
    _random_keys,
    _seed_words,
)
from ttscale.metrics.values import (
    _filtered_values,
    _mean_std,
    _naive_exact,
    _prefix_accuracy,
    _score_levels,
    _Tally,
    _tally,
    _vote_values,
)

Method = Literal["naive", "weighted", "maj", "filtered"]
Mode = Literal["random", "prefix"]

_SCORED_METHODS = ("naive", "weighted", "filtered")


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
    keep: float = 1.0,
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
        keep: ``filtered``: the share of each subset, by score, that votes (DeepConf's eta).

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
    _check_keep(keep)
    if mode == "prefix":
        return _prefix_accuracy(prob, n, method, keep), 0.0
    if method == "naive":
        scores_ = _finite_scores(prob, method)
        return _naive_exact(_score_levels(scores_, prob.correct), prob.size, n)
    weights = _finite_scores(prob, method) if method == "weighted" else None
    idx = _enumerated(prob.size, n, draws)
    if idx is None:
        # The n smallest keys of each row = the first n entries of that row's permutation,
        # exactly the subsets problem_metrics uses.
        idx = np.argpartition(_random_keys(words, draws, prob.size), n - 1, axis=1)[:, :n]
    if method == "filtered":
        return _mean_std(_filtered_values(prob, idx, keep))
    return _mean_std(_vote_values(prob, _tally(idx, prob, weights), method == "weighted"))


def _check_keep(keep: float) -> None:
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")


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
    methods: Sequence[str] = ("naive", "weighted", "maj"),
    keep: float = 1.0,
) -> dict[str, float]:
    """All metrics of one problem.

    Keys are ``f"{method}@{n}"``, ``f"pass@{n}"``, ``f"g-pass@{n}_{tau}"`` (tau in 0.5, 0.75,
    1; random mode) and ``f"mg-pass@{n}"`` for each ``n`` in ``ns``, plus
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
        methods: Subset of ``("naive", "weighted", "maj", "filtered")``.
        keep: ``filtered``: the share of each subset, by score, that votes (DeepConf's eta).

    Returns:
        Mapping from metric name to value for this problem.
    """
    _check_mode(mode)
    _check_keep(keep)
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
    voting = [m for m in methods if m in ("weighted", "maj")]
    filtered = "filtered" in methods
    levels = None
    perms: np.ndarray | None = None  # draws random permutations, shared by all n and methods
    running: _Tally | None = None  # tally of perms[:, :done]
    done = 0
    out: dict[str, float] = {}
    for n in sizes:
        if mode == "prefix":
            for method in methods:
                out[f"{method}@{n}"] = _prefix_accuracy(prob, n, method, keep)
            out[f"pass@{n}"] = float(prob.correct[:n].any())
            continue
        row: dict[str, float] = {}
        if "naive" in methods:
            if levels is None:
                levels = _score_levels(_finite_scores(prob, "naive"), prob.correct)
            row["naive"] = _naive_exact(levels, size, n)[0]
        if voting or filtered:
            idx = _enumerated(size, n, draws)
            if idx is None and perms is None:
                perms = np.argsort(_random_keys(words, draws, size), axis=1)
            if filtered:  # not incremental: each subset's own top share votes
                row["filtered"] = float(
                    _filtered_values(prob, idx if idx is not None else perms[:, :n], keep).mean()
                )
        if voting:
            if idx is not None:
                tally = _tally(idx, prob, weights)
            else:
                assert perms is not None
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
        for tau in G_PASS_TAUS:  # stability: tau of the n right (random mode only)
            out[f"g-pass@{n}_{tau:g}"] = g_pass_at_k(size, n_correct, n, tau)
        out[f"mg-pass@{n}"] = mg_pass_at_k(size, n_correct, n)
    out[f"avg@{size}"] = n_correct / size
    return out


def aggregate(
    problems: Sequence[Mapping[str, float]],
    *,
    missing: Literal["error", "drop", "partial"] = "error",
) -> dict[str, float]:
    """Mean of each metric across problems.

    By default a key is only averaged when every problem has it, so no mean is silently
    taken over a varying subset of problems (problems with different ``N`` have different
    keys).

    Args:
        problems: Per-problem dicts from :func:`problem_metrics`.
        missing: ``"error"`` raises ``ValueError`` if the problems' key sets differ;
            ``"drop"`` keeps only the keys present in every problem; ``"partial"`` averages
            each key over the problems that have it (report :func:`coverage` beside it).

    Returns:
        Mapping from metric name to its mean over problems (keys in first-seen order).
    """
    if missing not in ("error", "drop", "partial"):
        raise ValueError(f"missing must be 'error', 'drop' or 'partial', got {missing!r}")
    if not problems:
        raise ValueError("aggregate needs at least one problem")
    common = set(problems[0]).intersection(*problems[1:])
    every = set(problems[0]).union(*problems[1:])
    if missing == "error" and common != every:
        raise ValueError(
            f"metric keys differ between problems (not in all: {sorted(every - common)}); "
            "pass missing='drop' to keep only the shared keys"
        )
    keep = every if missing == "partial" else common
    order = [k for k in dict.fromkeys(k for p in problems for k in p) if k in keep]
    out = {}
    for k in order:
        values = [float(p[k]) for p in problems if k in p]
        out[k] = math.fsum(values) / len(values)
    return out


def coverage(problems: Sequence[Mapping[str, float]]) -> dict[str, int]:
    """How many problems each metric that not every problem has is averaged over.

    Problems whose searches return different numbers of completions (backtracking, early
    exit) support different n; each figure then says how many problems stand behind it.
    """
    counts: dict[str, int] = {}
    for p in problems:
        for k in p:
            counts[k] = counts.get(k, 0) + 1
    return {k: c for k, c in counts.items() if c < len(problems)}
