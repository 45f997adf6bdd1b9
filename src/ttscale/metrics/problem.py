"""One problem's validated arrays, argument checks, and the seeding of random subsets."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

METHODS: tuple[str, ...] = ("naive", "weighted", "maj", "filtered")
MODES: tuple[str, ...] = ("random", "prefix")
_WORD = 1 << 32


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


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
