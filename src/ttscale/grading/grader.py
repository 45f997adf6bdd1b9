"""Answer extraction and math-verify grading in killable worker processes.

``math_verify`` enforces its timeouts with ``SIGALRM``: that only works in a process's main
thread, and an alarm cannot interrupt long C-level work (e.g. a huge integer power). So every
``parse``/``verify`` call runs in a small pool of worker processes that the parent watches: an
item that runs past the per-item timeout is graded ``False`` and its worker is killed and
replaced. Verdicts are cached (optionally on disk) and trivial cases never reach math-verify.

Example:
    >>> with Grader() as grader:  # doctest: +SKIP
    ...     grader.grade([r"\\frac{1}{2}"], ["0.5"])
    [True]
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttscale.grading.answers import extract_answer, normalize_answer
from ttscale.grading.cache import merge_cache, read_cache
from ttscale.grading.pool import GraderStats, _Pool

logger = logging.getLogger(__name__)

__all__ = [
    "Grader",
    "GraderStats",
    "extract_answer",
    "grade_answers",
    "normalize_answer",
]


class Grader:
    """Grades answers against golds with math-verify, in killable worker processes.

    Use as a context manager (or call :meth:`close`). Not thread-safe.

    Args:
        num_workers: Worker processes (default ``min(2, cpu count)``).
        timeout: Per-item wall-clock limit in seconds; an item past it is graded False and its
            worker is killed and replaced.
        chunk_size: Maximum items sent to a worker per message.
        cache_path: Optional JSON file for the verdict cache: loaded now, merged and written
            atomically by :meth:`save` / :meth:`close`.
        start_method: ``"forkserver"`` (default where available) or ``"spawn"``.
        startup_timeout: Seconds a new worker may take to import math-verify.
        math_verify_timeout: Seconds for math-verify's own SIGALRM timeouts inside a worker
            (default: half of ``timeout``, at least 1); 0 disables them, leaving the watchdog.

    Attributes:
        stats: A :class:`GraderStats` with math-verify calls, cache hits, timeouts, etc.
    """

    def __init__(
        self,
        num_workers: int | None = None,
        timeout: float = 5.0,
        chunk_size: int = 64,
        cache_path: str | os.PathLike[str] | None = None,
        start_method: str | None = None,
        startup_timeout: float = 120.0,
        math_verify_timeout: int | None = None,
    ) -> None:
        if num_workers is None:
            num_workers = min(2, os.cpu_count() or 1)
        if num_workers < 1:
            raise ValueError("num_workers must be >= 1")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.stats = GraderStats()
        if math_verify_timeout is None:
            math_verify_timeout = max(1, int(timeout // 2))
        self._pool = _Pool(
            num_workers,
            timeout,
            max(1, chunk_size),
            start_method,
            startup_timeout,
            math_verify_timeout,
        )
        self._grade_cache: dict[tuple[str, str], bool] = {}
        self._equiv_cache: dict[tuple[str, str], bool] = {}
        self._dirty = False
        self.cache_path = Path(cache_path) if cache_path is not None else None
        if self.cache_path is not None:
            self._load(self.cache_path)

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, background: bool = False) -> None:
        """Start the worker processes now (otherwise they start on first need); with
        ``background``, in a thread, so that the caller goes on (a search) meanwhile."""
        if background:
            self._pool.start_soon()
        else:
            self._pool.start()

    def close(self) -> None:
        """Save the cache (if a ``cache_path`` was given) and stop the workers."""
        try:
            if self.cache_path is not None and self._dirty:
                self.save()
        finally:
            self._pool.close()

    # -- persistence ------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        grade, equiv, slow = read_cache(path)
        self._grade_cache.update(grade)
        self._equiv_cache.update(equiv)
        self._pool.slow.update(slow)

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Merge the verdict cache into a JSON file, atomically (temp file + ``os.replace``).

        Args:
            path: Target file; defaults to ``cache_path``.
        """
        target = Path(path) if path is not None else self.cache_path
        if target is None:
            raise ValueError("no cache path given")
        merge_cache(target, self._grade_cache, self._equiv_cache, self._pool.slow)
        if target == self.cache_path:
            self._dirty = False

    # -- grading ----------------------------------------------------------------------------

    def grade(self, golds: Sequence[str], answers: Sequence[str | None]) -> list[bool]:
        """Grade answers against golds (``verify(gold, answer)``, gold first).

        Args:
            golds: Reference answers (LaTeX without ``$`` is fine).
            answers: Extracted answers (see :func:`extract_answer`); None grades False.

        Returns:
            One verdict per item, in input order.
        """
        if len(golds) != len(answers):
            raise ValueError(f"{len(golds)} golds but {len(answers)} answers")
        out = [False] * len(answers)
        todo: dict[tuple[str, str], list[int]] = {}
        for i, (gold, answer) in enumerate(zip(golds, answers)):
            if answer is None or gold is None:
                self.stats.none_answers += 1
                continue
            key = (str(gold).strip(), str(answer).strip())
            cached = self._grade_cache.get(key)
            if cached is not None:
                out[i] = cached
                self.stats.cache_hits += 1
                continue
            if key in todo:
                todo[key].append(i)
                self.stats.duplicates += 1
                continue
            norm_gold, norm_answer = normalize_answer(key[0]), normalize_answer(key[1])
            if not norm_gold or not norm_answer or norm_gold == norm_answer:
                out[i] = bool(norm_gold) and norm_gold == norm_answer
                self.stats.fast_path += 1
                continue
            todo[key] = [i]
        keys = list(todo)
        verdicts = self._pool.run([("g", g, a) for g, a in keys], self.stats)
        for key, verdict in zip(keys, verdicts):
            self._grade_cache[key] = verdict
            for i in todo[key]:
                out[i] = verdict
        self._dirty = self._dirty or bool(keys)
        return out

    def equivalent(self, a: str, b: str) -> bool:
        """Whether two answers are equivalent (``verify`` in either order).

        Args:
            a: An answer.
            b: Another answer.

        Returns:
            True if math-verify accepts one as the other.
        """
        return self.cluster([a, b]) == [0, 0]

    def cluster(self, answers: Sequence[str | None]) -> list[int]:
        """Label the answers of ONE problem by mathematical equivalence.

        Args:
            answers: Extracted answers; None (or empty) gets label -1.

        Returns:
            Labels 0, 1, ... in order of first appearance; equal labels for equivalent answers.
        """
        return self.cluster_many([answers])[0]

    def cluster_many(self, groups: Sequence[Sequence[str | None]]) -> list[list[int]]:
        """Cluster several problems' answers at once (comparisons share worker batches).

        The partition depends only on the multiset of answers, never on their order:
        distinct answers (identical after :func:`normalize_answer`, which is proven safe)
        are taken most frequent first, ties by their text, and each joins the first earlier
        cluster whose founder math-verify finds equivalent (in either order), else founds
        one. (math-verify is not transitive, so "first founder in a fixed order" is what
        makes the result the same on every rerun and every permutation.)

        Args:
            groups: One sequence of answers per problem.

        Returns:
            One label list per problem, as in :meth:`cluster`.
        """
        # Per group: distinct answers in canonical order, each with a fixed raw form.
        reps_raw: list[list[str]] = []
        member_of: list[list[int]] = []
        for answers in groups:
            norms = []
            for answer in answers:
                raw = answer.strip() if answer is not None else ""
                norms.append((normalize_answer(raw) if raw else "", raw))
            counts = Counter(norm for norm, _ in norms if norm)
            raw_counts = Counter(pair for pair in norms if pair[0])
            order = sorted(counts, key=lambda norm: (-counts[norm], norm))
            index = {norm: k for k, norm in enumerate(order)}
            # The raw form math-verify sees: the most frequent spelling, ties by text.
            best: dict[str, tuple[int, str]] = {}
            for (norm, raw), c in raw_counts.items():
                best[norm] = min(best.get(norm, (0, raw)), (-c, raw))
            reps_raw.append([best[norm][1] for norm in order])
            member_of.append([index[norm] if norm else -1 for norm, _ in norms])
            self.stats.none_answers += sum(1 for norm, _ in norms if not norm)
            self.stats.fast_path += sum(1 for norm, _ in norms if norm) - len(order)

        # Greedy in rounds: each round, every group's first unassigned answer founds a new
        # cluster and all its still-unassigned answers are compared with it, in one batch.
        cluster_of: list[list[int]] = [[-1] * len(raws) for raws in reps_raw]
        n_clusters = [0] * len(groups)
        unassigned: list[list[int]] = [list(range(len(raws))) for raws in reps_raw]
        while any(unassigned):
            founders: list[int | None] = []
            todo: dict[tuple[str, str], None] = {}
            for g, left in enumerate(unassigned):
                if not left:
                    founders.append(None)
                    continue
                founder = left.pop(0)
                founders.append(founder)
                cluster_of[g][founder] = n_clusters[g]
                n_clusters[g] += 1
                for u in left:
                    key = self._pair_key(reps_raw[g][founder], reps_raw[g][u])
                    if key in self._equiv_cache:
                        self.stats.cache_hits += 1
                    elif key in todo:
                        self.stats.duplicates += 1
                    else:
                        todo[key] = None
            keys = list(todo)
            verdicts = self._pool.run([("e", a, b) for a, b in keys], self.stats)
            self._equiv_cache.update(zip(keys, verdicts))
            self._dirty = self._dirty or bool(keys)
            for g, founder in enumerate(founders):
                if founder is None:
                    continue
                still: list[int] = []
                for u in unassigned[g]:
                    key = self._pair_key(reps_raw[g][founder], reps_raw[g][u])
                    if self._equiv_cache[key]:
                        cluster_of[g][u] = cluster_of[g][founder]
                    else:
                        still.append(u)
                unassigned[g] = still

        return [
            _first_appearance([cluster_of[g][m] if m >= 0 else -1 for m in members])
            for g, members in enumerate(member_of)
        ]

    def grade_and_cluster(
        self, golds: Sequence[str], answers: Sequence[Sequence[str | None]]
    ) -> tuple[list[list[int]], list[list[bool]]]:
        """Grade every answer against its problem's gold and cluster each problem's answers.

        The one grading path of the pipeline and the analysis. Each answer keeps its own
        verdict (``verify(gold, answer)``); a cluster whose members got different verdicts
        (math-verify is not transitive: ``[2,5)`` and ``2\\le x<5`` against gold ``[2,5)``)
        is split by verdict, so a cluster never mixes verdicts and no verdict is guessed.

        Args:
            golds: One gold answer per problem.
            answers: Each problem's extracted answers (None: no answer).

        Returns:
            ``(labels, correct)``, one list per problem; labels number the clusters in order
            of first appearance, -1 for no answer.
        """
        if len(golds) != len(answers):
            raise ValueError(f"{len(golds)} golds but {len(answers)} answer lists")
        flat = self.grade(
            [g for g, a in zip(golds, answers) for _ in a], [x for a in answers for x in a]
        )
        labels, correct, k = [], [], 0
        for lab in self.cluster_many(answers):
            ok = flat[k : k + len(lab)]
            k += len(lab)
            split = [(label, verdict) if label >= 0 else None for label, verdict in zip(lab, ok)]
            labels.append(_first_appearance(split))
            correct.append([label >= 0 and verdict for label, verdict in zip(lab, ok)])
        return labels, correct

    @staticmethod
    def _pair_key(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)


def _first_appearance(keys: Sequence[Any]) -> list[int]:
    """Labels 0, 1, ... in order of first appearance; -1 for None or -1."""
    ids: dict[Any, int] = {}
    return [-1 if k is None or k == -1 else ids.setdefault(k, len(ids)) for k in keys]


def grade_answers(golds: Sequence[str], answers: Sequence[str | None], **kwargs: Any) -> list[bool]:
    """Grade once with a temporary :class:`Grader`.

    Args:
        golds: Reference answers.
        answers: Extracted answers (None grades False).
        **kwargs: Passed to :class:`Grader`.

    Returns:
        One verdict per item, in input order.
    """
    with Grader(**kwargs) as grader:
        return grader.grade(golds, answers)
