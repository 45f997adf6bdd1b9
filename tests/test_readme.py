"""Every command in the README's code blocks works as written (the docs cannot drift).

``python run.py`` lines are composed and validated as run.py would (sweeps expanded as
Hydra's sweeper does); ``--help`` and ``--cfg`` lines run; ``$ python run.py ...`` examples
run and must print what the README shows after them.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from ttscale.config import validate
from ttscale.sweep import plan_runs
from ttscale.sweep.hydra import compose, compose_sweep


def _commands() -> list[tuple[str, list[str]]]:
    """(command, the lines the README shows after it) for every run.py line of a code block."""
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", text, re.S):
        lines = block.replace("\\\n", " ").splitlines()
        for i, line in enumerate(lines):
            if "python run.py" not in line:
                continue
            shown = []
            for after in lines[i + 1 :]:
                if after.startswith("$ ") or "python run.py" in after:
                    break
                if after.strip() and after.strip() != "...":
                    shown.append(after.strip())
            out.append((line, shown if line.startswith("$ ") else []))
    return out


COMMANDS = _commands()


def test_the_readme_has_commands() -> None:
    assert len(COMMANDS) >= 8


@pytest.mark.parametrize(("line", "shown"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_each_readme_command_works_as_written(line, shown) -> None:
    words = shlex.split(line.removeprefix("$ "), comments=True)
    args = words[words.index("run.py") + 1 :]
    if shown or any(a in ("--help", "--cfg") for a in args):
        done = subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        output = done.stdout + done.stderr
        for expected in shown:
            assert expected in output, output[-2000:]
        if not shown:
            assert done.returncode == 0, output[-2000:]
    elif "-m" in args:
        assert plan_runs(compose_sweep([a for a in args if a != "-m"]))
    else:
        validate(compose(*args))
