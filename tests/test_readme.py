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


def _other_commands() -> list[str]:
    """The README's ``python learn.py`` and ``python -m ttscale.prm_eval`` lines."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", text, re.S)
    lines = [ln for b in blocks for ln in b.replace("\\\n", " ").splitlines()]
    return [ln for ln in lines if "python learn.py" in ln or "ttscale.prm_eval" in ln]


def test_the_readme_shows_the_learn_evaluate_search_loop() -> None:
    others = _other_commands()
    assert any("learn.py" in c for c in others) and any("prm_eval" in c for c in others)


@pytest.mark.parametrize("line", _other_commands())
def test_learn_and_prm_eval_lines_compose_and_validate(line) -> None:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from ttscale.learn.config import validate_learn
    from ttscale.learn.prm_eval import parse

    words = shlex.split(line, comments=True)
    if "learn.py" in words:
        args = words[words.index("learn.py") + 1 :]
        with initialize_config_dir(config_dir=str(ROOT / "conf" / "learn"), version_base="1.3"):
            validate_learn(hydra_compose(config_name="config", overrides=args))
    else:
        own, overrides = parse(words[words.index("ttscale.prm_eval") + 1 :])
        assert "data" in own or "results" in own
        validate(compose(*overrides))


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
