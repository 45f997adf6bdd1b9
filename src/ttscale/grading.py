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

import contextlib
import json
import logging
import math
import multiprocessing as mp
import os
import re
import signal
import tempfile
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "Grader",
    "GraderStats",
    "extract_answer",
    "grade_answers",
    "normalize_answer",
]

_CACHE_FORMAT = "ttscale.grading/v1"

# --------------------------------------------------------------------------------------------
# Answer extraction
# --------------------------------------------------------------------------------------------

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_TOKEN_RE = re.compile(r"[^\s${}]+")
_FALLBACK_RES = (
    re.compile(r"final\s+answer\s+is\s*:?", re.IGNORECASE),
    re.compile(r"answer\s+is\s*:?", re.IGNORECASE),
    re.compile(r"answer\s*:", re.IGNORECASE),
)
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)")
_DELIMS = (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"))


def _box_span(text: str, cmd_end: int) -> tuple[str, int] | None:
    """Parse the argument of a box command ending at ``cmd_end``.

    Args:
        text: The full text.
        cmd_end: Index just past ``\\boxed`` / ``\\fbox``.

    Returns:
        ``(content, end_index)``, or None when the argument is missing or its braces never close.
    """
    n = len(text)
    i = cmd_end
    while i < n and text[i].isspace():
        i += 1
    if i >= n:
        return None
    if text[i] != "{":
        if i == cmd_end and not text[i].isdigit() and text[i] not in "-+.":
            return None  # ``\boxed`` glued to something that is not an argument
        m = _BARE_TOKEN_RE.match(text, i)
        return (m.group(0), m.end()) if m else None
    depth = 0
    j = i
    while j < n:
        c = text[j]
        if c == "\\":  # escaped char, e.g. \{ or \}: not a grouping brace
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
        j += 1
    return None


def _strip_delims(s: str) -> str:
    """Remove whitespace and matching outer math delimiters (``$``, ``\\(``, ``\\[``, ``**``)."""
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)].strip()
                changed = True
    return s


def _clean(s: str) -> str:
    """Strip whitespace, outer delimiters and one trailing period."""
    s = _strip_delims(s)
    if s.endswith(".") and not s.endswith(".."):
        s = _strip_delims(s[:-1])
    return s


def _last_box(text: str) -> str | None:
    """Content of the last complete, non-empty top-level ``\\boxed``/``\\fbox`` in ``text``."""
    found: str | None = None
    pos = 0
    while True:
        m = _BOX_RE.search(text, pos)
        if m is None:
            return found
        span = _box_span(text, m.end())
        if span is None:
            pos = m.end()
            continue
        content, pos = span
        content = _clean(content)
        while (inner := _BOX_RE.match(content)) is not None:  # \boxed{\boxed{x}} -> x
            inner_span = _box_span(content, inner.end())
            if inner_span is None or inner_span[1] != len(content):
                break
            content = _clean(inner_span[0])
        if content:
            found = content


def _fallback(text: str) -> str | None:
    """Answer after "final answer is" / "answer is" / "answer:" (last occurrence), if any."""
    for pattern in _FALLBACK_RES:
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        rest = text[matches[-1].end() :].lstrip(" \t*")
        line = rest.split("\n", 1)[0].strip()
        for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if line.startswith(left):
                stripped = line.lstrip("$") if left == "$" else line[len(left) :]
                close = stripped.find(right)
                if close > 0:
                    line = stripped[:close]
                break
        else:
            end = _SENTENCE_END_RE.search(line)
            if end is not None:
                line = line[: end.start()]
        answer = _clean(line.strip("* "))
        if answer:
            return answer
    return None


def extract_answer(text: str | None) -> str | None:
    """Extract the final answer from a model's solution.

    Uses the content of the last ``\\boxed{...}`` (nested braces and ``\\fbox{}`` handled; also
    ``\\boxed 5``). Without a box, falls back to "final answer is $X$" / "The final answer is X",
    then "The answer is X", then "Answer: X".

    Args:
        text: The generated solution.

    Returns:
        The answer, stripped of whitespace, outer ``$`` and a trailing period; None if not found.
    """
    if not text:
        return None
    boxed = _last_box(text)
    return boxed if boxed is not None else _fallback(text)


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_LATEX_SPACE_RE = re.compile(r"\\[,;:! ]|\\q?quad(?![A-Za-z])|\\(?:left|right)(?![A-Za-z])")
_WS_RE = re.compile(r"\s+")


def normalize_answer(s: str) -> str:
    """Lightly normalise an answer for exact-match fast paths.

    Strips whitespace, outer ``$`` (and ``\\(...\\)``), LaTeX spacing commands,
    ``\\left``/``\\right``, all remaining whitespace and one trailing period, and maps
    ``\\dfrac``/``\\tfrac`` to ``\\frac``. This never decides that two answers differ; it only
    lets identical-looking answers skip math-verify.

    Args:
        s: An answer string.

    Returns:
        The normalised string ("" for an empty answer).
    """
    s = _clean(s)
    s = _LATEX_SPACE_RE.sub("", s)
    s = _WS_RE.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    if s.endswith(".") and not s.endswith(".."):
        s = s[:-1]
    return s


def _to_parse_input(s: str) -> str:
    """Wrap an answer so that math-verify's LaTeX extractor sees it (``$...$``)."""
    if "\\boxed" in s or "\\fbox" in s:
        return s
    return f"${_strip_delims(s)}$"


# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------

_READY = -1  # first message of a worker; afterwards each result is the int (index << 1) | verdict


def _worker_main(conn: Connection, mv_timeout: int) -> None:
    """Worker loop: receive chunks of tasks, send one small int per finished task.

    Args:
        conn: The worker's end of a duplex pipe.
        mv_timeout: Seconds passed to math-verify's own (SIGALRM) timeouts.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from math_verify import parse, verify

    parsed: dict[str, Any] = {}

    def p(s: str) -> Any:
        out = parsed.get(s)
        if out is None:
            if len(parsed) >= 16384:
                parsed.clear()
            out = parse(_to_parse_input(s), parsing_timeout=mv_timeout)
            parsed[s] = out
        return out

    def run(kind: str, x: str, y: str) -> bool:
        px, py = p(x), p(y)
        if verify(px, py, timeout_seconds=mv_timeout):
            return True
        return kind == "e" and bool(verify(py, px, timeout_seconds=mv_timeout))

    with contextlib.suppress(Exception):  # warm up lazy parsers before the clock starts
        run("g", "1", "1")
    conn.send(_READY)
    while True:
        try:
            tasks = conn.recv()
        except (EOFError, OSError):
            return
        if tasks is None:
            return
        for i, (kind, x, y) in enumerate(tasks):
            try:
                verdict = run(kind, x, y)
            except Exception:  # any failure grades False
                verdict = False
            conn.send((i << 1) | int(verdict))


# --------------------------------------------------------------------------------------------
# Parent side: the pool
# --------------------------------------------------------------------------------------------

Task = tuple[str, str, str]  # (kind, x, y): kind "g" = verify(x, y); "e" = either order


@dataclass
class GraderStats:
    """Counters of a Grader's work.

    Attributes:
        mv_calls: Items evaluated by math-verify in a worker (grade pairs and equivalence pairs).
        cache_hits: Items answered from the verdict cache (earlier calls or the cache file).
        duplicates: Items that repeated an earlier item of the same call (evaluated once).
        fast_path: Items decided without math-verify (identical after normalisation, or empty).
        none_answers: Items with a None answer (graded False / labelled -1).
        timeouts: Items that ran past the timeout (graded False, worker replaced).
        crashes: Items whose worker died (graded False, worker replaced).
        restarts: Workers killed and replaced.
    """

    mv_calls: int = 0
    cache_hits: int = 0
    duplicates: int = 0
    fast_path: int = 0
    none_answers: int = 0
    timeouts: int = 0
    crashes: int = 0
    restarts: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict."""
        return asdict(self)


class _Worker:
    """One worker process and the parent's view of its progress."""

    __slots__ = ("proc", "conn", "ready", "chunk", "done", "since", "started")

    def __init__(self, proc: Any, conn: Connection) -> None:
        self.proc = proc
        self.conn = conn
        self.ready = False
        self.chunk: list[int] | None = None
        self.done = 0
        self.started = time.monotonic()
        self.since = self.started


def _stop_workers(workers: list[_Worker], graceful: bool = True) -> None:
    """Stop (then kill if needed) the given workers and empty the list."""
    for w in workers:
        if graceful and w.proc.is_alive():
            with contextlib.suppress(OSError, ValueError):
                w.conn.send(None)
    deadline = time.monotonic() + (1.0 if graceful else 0.0)
    for w in workers:
        w.proc.join(max(0.0, deadline - time.monotonic()))
        if w.proc.is_alive():
            w.proc.kill()
            w.proc.join(1.0)
        w.conn.close()
    workers.clear()


def _get_context(start_method: str | None) -> Any:
    """Multiprocessing context: forkserver (math_verify preloaded) where available, else spawn."""
    if start_method is None:
        start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    if start_method == "fork":
        raise ValueError("start_method='fork' is unsafe here; use 'forkserver' or 'spawn'")
    ctx = mp.get_context(start_method)
    if start_method == "forkserver":
        try:
            from multiprocessing import forkserver

            current = list(getattr(forkserver._forkserver, "_preload_modules", ["__main__"]))
        except Exception:  # private detail: use the default
            current = ["__main__"]
        wanted = [m for m in ("math_verify", __name__) if m not in current]
        if wanted:  # only takes effect if the fork server has not started yet
            ctx.set_forkserver_preload(current + wanted)
    return ctx


class _Pool:
    """Worker processes with a per-item watchdog; runs lists of tasks."""

    def __init__(
        self,
        num_workers: int,
        timeout: float,
        chunk_size: int,
        start_method: str | None,
        startup_timeout: float,
        mv_timeout: int,
    ) -> None:
        self.num_workers = num_workers
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.startup_timeout = startup_timeout
        self.mv_timeout = mv_timeout
        self.start_method = start_method
        self._ctx: Any = None
        self.workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _stop_workers, self.workers, False)

    def _spawn(self) -> _Worker:
        if self._ctx is None:
            self._ctx = _get_context(self.start_method)
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child_conn, self.mv_timeout),
            daemon=True,
            name="ttscale-grader",
        )
        proc.start()
        child_conn.close()  # so that the parent sees EOF when the worker dies
        return _Worker(proc, parent_conn)

    def start(self) -> None:
        """Start any missing workers."""
        while len(self.workers) < self.num_workers:
            self.workers.append(self._spawn())

    def close(self) -> None:
        """Stop all workers."""
        _stop_workers(self.workers)

    def _replace(self, w: _Worker, stats: GraderStats) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(1.0)
        w.conn.close()
        self.workers[self.workers.index(w)] = self._spawn()
        stats.restarts += 1

    def run(self, tasks: list[Task], stats: GraderStats) -> list[bool]:
        """Evaluate ``tasks`` in the workers.

        Args:
            tasks: The tasks, already deduplicated.
            stats: Counters to update.

        Returns:
            One verdict per task, in order; False for tasks that timed out or crashed a worker.
        """
        if not tasks:
            return []
        try:
            return self._run(tasks, stats)
        except BaseException:
            _stop_workers(self.workers, graceful=False)  # unknown pipe state: start afresh
            raise

    def _run(self, tasks: list[Task], stats: GraderStats) -> list[bool]:
        self.start()
        n = len(tasks)
        size = max(1, min(self.chunk_size, math.ceil(n / (4 * len(self.workers)))))
        pending: deque[list[int]] = deque(
            list(range(s, min(s + size, n))) for s in range(0, n, size)
        )
        results: list[bool] = [False] * n
        remaining = n
        startup_failures = 0

        def fail_current(w: _Worker) -> None:
            """Grade the worker's current item False and requeue the rest of its chunk."""
            nonlocal remaining
            assert w.chunk is not None
            remaining -= 1
            rest = w.chunk[w.done + 1 :]
            if rest:
                pending.appendleft(rest)
            w.chunk = None

        while remaining:
            now = time.monotonic()
            for w in list(self.workers):
                if w.chunk is None and pending:
                    if not w.proc.is_alive():  # died while idle: no item to blame
                        self._replace(w, stats)
                        continue
                    chunk = pending.popleft()
                    try:
                        w.conn.send([tasks[j] for j in chunk])
                    except (OSError, ValueError):
                        pending.appendleft(chunk)
                        self._replace(w, stats)
                        continue
                    w.chunk, w.done, w.since = chunk, 0, now
            busy = [w for w in self.workers if w.chunk is not None]
            if not busy:  # every send failed; the replacements take the chunks next time
                continue
            deadline = min(
                (w.since + self.timeout) if w.ready else (w.started + self.startup_timeout)
                for w in busy
            )
            handles: dict[Any, _Worker] = {}
            for w in busy:
                handles[w.conn] = w
                handles[w.proc.sentinel] = w
            fired = wait(list(handles), timeout=max(0.0, deadline - now))
            now = time.monotonic()
            dead: set[int] = set()
            for w in busy:
                try:
                    while w.chunk is not None and w.conn.poll():
                        msg = w.conn.recv()
                        w.since = now
                        if msg == _READY:
                            w.ready = True
                            continue
                        i, verdict = msg >> 1, bool(msg & 1)
                        results[w.chunk[i]] = verdict
                        remaining -= 1
                        stats.mv_calls += 1
                        w.done = i + 1
                        if w.done == len(w.chunk):
                            w.chunk = None
                except (EOFError, OSError):
                    dead.add(id(w))
                if w.proc.sentinel in fired and not w.proc.is_alive():
                    dead.add(id(w))
            for w in busy:
                if id(w) in dead:
                    if w.chunk is not None:
                        if w.ready:
                            logger.warning("grader worker died; item graded False")
                            stats.crashes += 1
                            fail_current(w)
                        else:
                            startup_failures += 1
                            pending.appendleft(w.chunk[w.done :])
                            w.chunk = None
                            if startup_failures > 3:
                                raise RuntimeError(
                                    "grader workers keep dying at start-up "
                                    "(is math-verify installed?)"
                                )
                    self._replace(w, stats)
                elif w.chunk is not None and not w.conn.poll():
                    if w.ready and now - w.since > self.timeout:
                        stats.timeouts += 1
                        fail_current(w)
                        self._replace(w, stats)
                    elif not w.ready and now - w.started > self.startup_timeout:
                        raise RuntimeError(
                            f"grader worker did not start within {self.startup_timeout:.0f} s"
                        )
        return results


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _math_verify_version() -> str:
    try:
        from importlib.metadata import version

        return version("math-verify")
    except Exception:
        return "unknown"


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

    def start(self) -> None:
        """Start the worker processes now (otherwise they start on first need)."""
        self._pool.start()

    def close(self) -> None:
        """Save the cache (if a ``cache_path`` was given) and stop the workers."""
        try:
            if self.cache_path is not None and self._dirty:
                self.save()
        finally:
            self._pool.close()

    # -- persistence ------------------------------------------------------------------------

    @staticmethod
    def _read(path: Path) -> tuple[dict[tuple[str, str], bool], dict[tuple[str, str], bool]]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != _CACHE_FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            if data.get("math_verify") != _math_verify_version():
                logger.warning("ignoring %s: written by another math-verify version", path)
                return {}, {}
            grade = {(g, a): bool(v) for g, a, v in data["grade"]}
            equiv = {(a, b): bool(v) for a, b, v in data["equiv"]}
            return grade, equiv
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("ignoring unreadable grading cache %s: %s", path, e)
            return {}, {}

    def _load(self, path: Path) -> None:
        grade, equiv = self._read(path)
        self._grade_cache.update(grade)
        self._equiv_cache.update(equiv)

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Merge the verdict cache into a JSON file, atomically (temp file + ``os.replace``).

        Args:
            path: Target file; defaults to ``cache_path``.
        """
        target = Path(path) if path is not None else self.cache_path
        if target is None:
            raise ValueError("no cache path given")
        grade, equiv = self._read(target)  # keep entries another process added meanwhile
        grade.update(self._grade_cache)
        equiv.update(self._equiv_cache)
        data = {
            "format": _CACHE_FORMAT,
            "math_verify": _math_verify_version(),
            "grade": [[g, a, v] for (g, a), v in grade.items()],
            "equiv": [[a, b, v] for (a, b), v in equiv.items()],
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
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

        Each distinct answer joins the first cluster whose representative (its first member)
        is equivalent to it, else it starts a new cluster. Answers identical after
        :func:`normalize_answer` share a cluster without math-verify.

        Args:
            groups: One sequence of answers per problem.

        Returns:
            One label list per problem, as in :meth:`cluster`.
        """
        labels_out: list[list[int]] = []
        # Per group: distinct answers (first raw form), and which distinct answer each item is.
        reps_raw: list[list[str]] = []
        member_of: list[list[int]] = []
        for answers in groups:
            index: dict[str, int] = {}
            raws: list[str] = []
            members: list[int] = []
            for answer in answers:
                raw = answer.strip() if answer is not None else ""
                norm = normalize_answer(raw) if raw else ""
                if not norm:
                    self.stats.none_answers += 1
                    members.append(-1)
                    continue
                if norm in index:
                    self.stats.fast_path += 1
                else:
                    index[norm] = len(raws)
                    raws.append(raw)
                members.append(index[norm])
            reps_raw.append(raws)
            member_of.append(members)

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

        for g, members in enumerate(member_of):
            labels_out.append([cluster_of[g][m] if m >= 0 else -1 for m in members])
        return labels_out

    @staticmethod
    def _pair_key(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)


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
