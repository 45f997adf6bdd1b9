"""wandb tracking, offline: config (flattened, secrets redacted) and summary metrics are logged."""

from __future__ import annotations

import json

import pytest

from ttscale.tracking import flatten, redact


def test_flatten_and_redact():
    flat = flatten({"model": {"name": "x", "api_key": "sk-secret"}, "n": 4})
    assert flat == {"model.name": "x", "model.api_key": "sk-secret", "n": 4}
    assert redact(flat)["model.api_key"] == "***" and redact(flat)["n"] == 4


@pytest.mark.slow
def test_wandb_offline_run_logs_config_and_summary(make_cfg, tmp_path, policy_path, monkeypatch):
    from ttscale.pipeline import main

    monkeypatch.setenv("WANDB_MODE", "offline")
    summary = main(
        make_cfg(
            "tracking=wandb",
            f"tracking.dir={tmp_path}",
            "approach=majority",
            "prm=none",
            "n=2",
            "dataset.num_samples=2",
        )
    )
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    # wandb >= 0.19 keeps an offline run in one protobuf log; its strings appear verbatim.
    (log,) = runs[0].glob("*.wandb")
    data = log.read_bytes()
    value = json.dumps(summary["metrics"]["maj@2"]).encode()
    assert b'"maj@2"' in data or b"maj@2" in data
    assert value in data
    assert b"model.path" in data  # flattened config keys, so sweeps group by column
    assert b"tracking.name" in data
