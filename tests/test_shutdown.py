"""run.py ends with ttscale.run.shutdown.exit_fast: nothing the interpreter's exit would keep
is lost (threads, atexit handlers, buffered output, log files), and the status is sys.exit's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ttscale.run.shutdown import exit_status

SCRIPT = """
import atexit, logging, sys, threading, time
from pathlib import Path
from ttscale.run.shutdown import exit_fast

out = Path(sys.argv[1])
logging.basicConfig(filename=out / "run.log", level=logging.INFO)
logging.getLogger("t").info("logged before exit")
atexit.register(lambda: (out / "atexit").write_text("ran"))

def late():
    time.sleep(0.3)
    (out / "thread").write_text("joined")

threading.Thread(target=late).start()
sys.stdout.write("no newline, still buffered")
exit_fast(CODE)
"""


@pytest.mark.parametrize(("code", "status"), [(None, 0), (3, 3), ("'bye'", 1)])
def test_exit_fast_keeps_what_a_normal_exit_keeps(tmp_path, code, status) -> None:
    script = textwrap.dedent(SCRIPT).replace("CODE", str(code))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == status, done.stderr
    assert done.stdout == "no newline, still buffered"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "joined"
    assert "logged before exit" in (tmp_path / "run.log").read_text()
    assert ("bye" in done.stderr) == (code == "'bye'")


def test_exit_status_is_sys_exits(capsys) -> None:
    assert [exit_status(c) for c in (None, 0, 2)] == [0, 0, 2]
    assert exit_status("a message") == 1
    assert capsys.readouterr().err == "a message\n"
