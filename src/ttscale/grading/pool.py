"""The grading worker pool: math-verify in killable processes, watched per item.

Internal to :mod:`ttscale.grading`. A worker runs ``parse``/``verify`` (math-verify's SIGALRM
timeouts need a process's main thread); the parent gives each item a wall-clock budget, kills
and replaces a worker whose item runs past it, and remembers answers that timed out.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import signal
import threading
import time
import weakref
from collections import deque
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ttscale.grading.answers import _to_parse_input

logger = logging.getLogger("ttscale.grading")

# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------

# First message of a worker; afterwards each result is the int (index << 2) | slow << 1 | verdict,
# where "slow" means math-verify's own timeout fired (the item took most of its budget).
_READY = -1


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
            start = time.monotonic()
            try:
                verdict = run(kind, x, y)
            except Exception:  # any failure grades False
                verdict = False
            slow = mv_timeout > 0 and time.monotonic() - start >= 0.8 * mv_timeout
            conn.send((i << 2) | (int(slow and not verdict) << 1) | int(verdict))


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
        timeouts: Items that timed out: past the watchdog's timeout (graded False, worker
            replaced), or math-verify's own timeout fired (graded as it returned, False).
        known_slow: Items graded False unevaluated: their answer already timed out once.
        crashes: Items whose worker died (graded False, worker replaced).
        restarts: Workers killed and replaced.
    """

    mv_calls: int = 0
    cache_hits: int = 0
    duplicates: int = 0
    fast_path: int = 0
    none_answers: int = 0
    timeouts: int = 0
    known_slow: int = 0
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
        # Answers whose grading timed out. Parsing the answer is what explodes (a power tower,
        # a giant factorial), whatever the gold, so later items with the same answer are graded
        # False at once instead of costing a timeout and a worker restart each.
        self.slow: set[str] = set()
        self.start_method = start_method
        self._ctx: Any = None
        self.workers: list[_Worker] = []
        self._starting: threading.Thread | None = None
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
        """Start any missing workers (after a background start has finished)."""
        self._join_starting()
        self._fill()

    def _fill(self) -> None:
        while len(self.workers) < self.num_workers:
            self.workers.append(self._spawn())

    def start_soon(self) -> None:
        """Start the workers in a background thread: the fork server's import of math-verify
        (about a second) overlaps whatever the caller does next. Any use joins it first,
        :meth:`close` too, so no worker can start after the pool was closed."""
        if self._starting is None and len(self.workers) < self.num_workers:
            # The thread runs _fill, not start: start would clear _starting and close() would
            # then stop the workers before they exist.
            self._starting = threading.Thread(target=self._fill, name="grader-start", daemon=True)
            self._starting.start()

    def _join_starting(self) -> None:
        thread, self._starting = self._starting, None
        if thread is not None:  # never the start thread itself: it runs _fill only
            thread.join()

    def close(self) -> None:
        """Stop all workers."""
        self._join_starting()
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

    def _note_slow(self, task: Task, stats: GraderStats) -> None:
        """Count a timeout; remember a graded answer that caused it (not an equivalence pair:
        either side may be the slow one)."""
        stats.timeouts += 1
        if task[0] == "g":
            self.slow.add(task[2])

    def _known_slow(self, task: Task) -> bool:
        return task[2] in self.slow or (task[0] == "e" and task[1] in self.slow)

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
                    queued = pending.popleft()
                    chunk = [j for j in queued if not self._known_slow(tasks[j])]
                    remaining -= len(queued) - len(chunk)  # known slow: False, the default
                    stats.known_slow += len(queued) - len(chunk)
                    if not chunk:
                        continue
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
                        i, verdict = msg >> 2, bool(msg & 1)
                        if msg & 2:  # timed out inside math-verify
                            self._note_slow(tasks[w.chunk[i]], stats)
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
                        self._note_slow(tasks[w.chunk[w.done]], stats)
                        fail_current(w)
                        self._replace(w, stats)
                    elif not w.ready and now - w.started > self.startup_timeout:
                        raise RuntimeError(
                            f"grader worker did not start within {self.startup_timeout:.0f} s"
                        )
        return results
