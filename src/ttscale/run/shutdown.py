"""End run.py's process without the interpreter's module teardown.

With torch and transformers loaded, Python's own shutdown spends about a second tearing down
some 2,500 modules (bench/startup.py measures it), longer than a small run's search. Nothing
needs that teardown: a run's files are written atomically and closed before it returns. So
the entry point does what the interpreter would do that matters (join non-daemon threads,
run the atexit handlers: logging, multiprocessing's children, wandb, weakref finalizers),
flushes the standard streams, and leaves with ``os._exit``.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` would end with (a non-integer is printed, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def exit_fast(code: object = None) -> NoReturn:
    """Leave now with ``code``'s status, after threads, atexit handlers and stdio flushes."""
    status = exit_status(code)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what Py_Finalize runs first; errors are reported, not raised
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # closed or a broken pipe: nothing more can be said
            pass
    os._exit(status)
