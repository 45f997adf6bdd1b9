"""Start and always stop a local ``transformers serve`` process (``model.serve=true``, tests).

The server runs in its own process group on a free localhost port, logging to a temporary
folder. :meth:`TransformersServer.stop` ends the whole group (SIGTERM, then SIGKILL) and
removes the folder; it runs on ``close()``, on leaving the ``with`` block, at interpreter
exit, and when startup fails, so no server or log file outlives the run that started it.
On Linux the server also gets SIGTERM if the run is killed outright (SIGKILL); only its
temporary log folder is then left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path


class ServerStartError(RuntimeError):
    """The server exited or did not become healthy in time; the message has its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(
    model_path: str, port: int, device: str = "cpu", dtype: str = "auto"
) -> list[str]:
    """The ``transformers serve`` command line for one local model, on 127.0.0.1:port."""
    # The CLI of this Python's environment first: a `transformers` elsewhere on PATH may be
    # another version.
    local = Path(sys.executable).with_name("transformers")
    cli = str(local) if local.is_file() else shutil.which("transformers")
    if cli is None:
        raise ServerStartError(
            "model.serve=true needs the `transformers` command: pip install 'ttscale[serving]'"
        )
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--dtype", dtype]
    if device != "auto":
        args += ["--device", device]
    return [cli, *args, model_path]


class TransformersServer:
    """A ``transformers serve`` process for ``model_path``; a context manager.

    Args:
        model_path: the local model folder (its generation_config needs ``do_sample: true``
            for the server to honour ``temperature``).
        device: passed as ``--device`` ("cpu", "cuda:0"); "auto" lets the server choose.
        dtype: passed as ``--dtype``.
        startup_timeout: seconds to wait for ``/health``.
        threads: the server's torch threads (``OMP_NUM_THREADS``); None inherits.
        command: the full command line instead of :func:`serve_command` (tests); ``{port}``
            in an argument is replaced by the chosen port.
    """

    def __init__(
        self,
        model_path: str,
        *,
        device: str = "cpu",
        dtype: str = "auto",
        startup_timeout: float = 180.0,
        threads: int | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.model_path = model_path
        self.device = device
        self.dtype = dtype
        self.startup_timeout = startup_timeout
        self.threads = threads
        self.command = list(command) if command else None
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start the server and wait until it answers ``/health``; return its base URL."""
        if self.proc is not None:
            return self.base_url
        port = free_port()
        cmd = self.command or serve_command(self.model_path, port, self.device, self.dtype)
        cmd = [a.replace("{port}", str(port)) for a in cmd]
        self.workdir = Path(tempfile.mkdtemp(prefix="ttscale-serve-"))
        self.base_url = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        if self.threads is not None:
            env["OMP_NUM_THREADS"] = str(self.threads)
        atexit.register(self.stop)
        with open(self.workdir / "server.log", "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        try:
            self._wait_healthy()
        except ServerStartError as err:
            tail = self.log_tail()
            self.stop()
            raise ServerStartError(f"{err}\n--- server log (last lines) ---\n{tail}") from None
        except BaseException:  # Ctrl-C while waiting: no server left behind either
            self.stop()
            raise
        return self.base_url

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.proc.poll() if self.proc else None
            if code is not None:
                raise ServerStartError(f"transformers serve {self.model_path} exited with {code}")
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise ServerStartError(
            f"transformers serve {self.model_path} not healthy after {self.startup_timeout:g} s"
        )

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "server.log" if self.workdir else None
        if path is None or not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """End the server's whole process group and remove its folder (idempotent)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> TransformersServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child (Linux): SIGTERM when the parent dies, even by SIGKILL, where no
    ``finally`` or atexit handler runs (PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, sig)  # the server's own group: its workers end with it
