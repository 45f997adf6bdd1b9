"""Secrets given by config or environment appear in no file a run writes, and in no output.

A recognisable fake OpenAI key is planted in the config (``model.api_key``) and another one,
with a fake Hub token, in the environment; a real toy run through ``run.py`` (Hydra, wandb
offline) then writes Hydra's ``.hydra/`` files, its log, wandb's offline run, the results
parquet and JSON. Every byte of every file under the run's folders (HOME and TMPDIR
included) is searched, and so are stdout and stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from ttscale.redact import is_secret_key, redact, scrub, secret_values

CONFIG_KEY = "sk-TTSCALE-CANARY-config-7d1e9a3f"
ENV_KEY = "sk-TTSCALE-CANARY-environ-4b2c0f81"
HF_TOKEN = "hf_CANARYtokenXk29QdLm7"
SECRETS = (CONFIG_KEY, ENV_KEY, HF_TOKEN)


def run_cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``python run.py`` with the secrets planted and every writable place under tmp_path."""
    for d in ("home", "tmp", "logs", "results"):
        (tmp_path / d).mkdir(exist_ok=True)
    env = os.environ | {
        "OPENAI_API_KEY": ENV_KEY,
        "HF_TOKEN": HF_TOKEN,
        "WANDB_MODE": "offline",
        "HOME": str(tmp_path / "home"),  # wandb's and HF's caches land here, and get searched
        "TMPDIR": str(tmp_path / "tmp"),
    }
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            f"++model.api_key={CONFIG_KEY}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"storage.results_dir={tmp_path / 'results'}",
            *overrides,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def leaks(tmp_path: Path, proc: subprocess.CompletedProcess) -> list[str]:
    """Where any planted secret appears: file paths, or "stdout"/"stderr"."""
    found = [
        f"{name}" for name in ("stdout", "stderr") for s in SECRETS if s in getattr(proc, name)
    ]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [str(path) for s in SECRETS if s.encode() in data]
    return found


@pytest.mark.slow
def test_a_toy_run_writes_no_secret_anywhere(tmp_path, policy_path):
    proc = run_cli(
        tmp_path,
        "approach=majority",
        "prm=none",
        "n=2",
        "max_tokens=64",
        "dataset.num_samples=2",
        "progress=false",
        "tracking=wandb",
    )
    assert proc.returncode == 0, proc.stderr
    # The files the issue names were written, so the search below is not vacuous.
    (run_dir,) = (tmp_path / "logs" / "runs").glob("*/*")
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        assert (run_dir / ".hydra" / name).is_file(), name
    # run.log exists only if something was logged (its handler opens the file on first use)
    assert list((tmp_path / "logs" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert list((tmp_path / "results").rglob("chunk-0_2.parquet"))
    assert list((tmp_path / "results").rglob("chunk-0_2.json"))
    assert leaks(tmp_path, proc) == []
    # Redacted, not dropped: the dumps still say that a key was set.
    assert "++model.api_key=***" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "api_key: '***'" in (run_dir / ".hydra" / "config.yaml").read_text()


@pytest.mark.parametrize(
    "overrides,expected",
    [
        (["n=0"], "n: Input should be greater than or equal to 1"),
        (["model=toy-openai", "model.serve=false"], "needs exactly one of model.base_url"),
        (["++model.api_ky=x"], "model.api_ky: unknown key"),
        ([f"++model.base_url=http://h/{CONFIG_KEY}", "n=0"], "n:"),
    ],
    ids=["invalid value", "error beside the key", "typo next to the key", "key in a url"],
)
def test_error_messages_do_not_echo_secrets(tmp_path, overrides, expected):
    proc = run_cli(tmp_path, *overrides)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert leaks(tmp_path, proc) == []


def test_hydra_errors_do_not_echo_secrets(tmp_path):
    # Hydra's own messages quote the overrides ("Error executing job with overrides: [...]",
    # "To append to your config use +model.api_key=..."); run.py scrubs its output streams.
    proc = run_cli(tmp_path, f"model.nonexistent_api_key={CONFIG_KEY}")
    assert proc.returncode == 1 and "model.nonexistent_api_key" in proc.stderr
    assert leaks(tmp_path, proc) == []


def test_secret_keys_and_values():
    assert all(map(is_secret_key, ["model.api_key", "OPENAI_API_KEY", "HF_TOKEN", "GITHUB_TOKEN"]))
    assert not any(map(is_secret_key, ["max_tokens", "prm.good_token", "step_tokens", "seed"]))
    cfg = {"model": {"api_key": CONFIG_KEY, "path": "p"}, "max_tokens": 8, "o": ["+x.token=abc"]}
    assert redact(cfg) == {
        "model": {"api_key": "***", "path": "p"},
        "max_tokens": 8,
        "o": ["+x.token=***"],
    }
    values = secret_values(cfg, [f"++storage.hub_token={HF_TOKEN}"], {"OPENAI_API_KEY": ENV_KEY})
    assert values == set(SECRETS)
    assert scrub(f"url=http://h/{CONFIG_KEY}?t={HF_TOKEN}", values) == "url=http://h/***?t=***"


def test_a_failed_sweep_leaves_no_secret_in_multirun_yaml(tmp_path):
    # Hydra's launcher saves multirun.yaml with the overrides verbatim; the callback rewrites
    # it when the sweep ends, here by a job's exit on bad input.
    proc = run_cli(tmp_path, "hydra.mode=MULTIRUN", "n=0,-1")
    assert proc.returncode == 2 and "n: Input should be greater" in proc.stderr, proc.stderr
    assert list((tmp_path / "logs" / "multiruns").rglob("multirun.yaml"))
    assert leaks(tmp_path, proc) == []


def test_log_records_are_scrubbed():
    import io
    import logging

    from ttscale.redact import ScrubFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubFilter({CONFIG_KEY}))
    log = logging.getLogger("ttscale.test_secrets")
    log.addHandler(handler)
    try:
        log.warning("calling %s with key %s", "http://h", CONFIG_KEY)
        try:
            raise RuntimeError(f"401 for key {CONFIG_KEY}")
        except RuntimeError:
            log.exception("request failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert text.startswith("calling http://h with key ***\nrequest failed\nTraceback")
    assert "RuntimeError: 401 for key ***" in text and CONFIG_KEY not in text
