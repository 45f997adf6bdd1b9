"""wandb tracking, offline: config (flattened, secrets redacted) and summary metrics are logged."""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest

from ttscale.run.tracking import Tracker, accuracy_curves, flatten, redact


def test_flatten_and_redact():
    flat = flatten({"model": {"name": "x", "api_key": "sk-secret"}, "n": 4})
    assert flat == {"model.name": "x", "model.api_key": "sk-secret", "n": 4}
    assert redact(flat)["model.api_key"] == "***" and redact(flat)["n"] == 4


def _flushed(log, needle: bytes, wait_s: float = 60.0) -> bytes:
    """The offline run file once ``needle`` is in it: wandb-core writes it after finish()
    returns (all of it by process exit, which is when `wandb sync` reads it)."""
    deadline = time.monotonic() + wait_s
    while needle not in (data := log.read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return data


@pytest.mark.slow
def test_wandb_offline_run_logs_config_and_summary(make_cfg, tmp_path, policy_path, monkeypatch):
    from ttscale.run.pipeline import main

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
    data = _flushed(log, b"maj@2")
    value = json.dumps(summary["metrics"]["maj@2"]).encode()
    assert b'"maj@2"' in data or b"maj@2" in data
    assert value in data
    assert b"model.path" in data  # flattened config keys, so sweeps group by column
    assert b"tracking.name" in data


def test_redact_by_value_shape() -> None:
    flat = redact({"model.url": "https://x?key=hf_abcdefghijklmnopqrstu", "n": 4})
    assert "hf_abc" not in flat["model.url"] and flat["n"] == 4


def test_accuracy_curves_keep_complete_methods() -> None:
    ns, curves = accuracy_curves(
        {"maj@1": 0.1, "maj@2": 0.2, "pass@1": 0.1, "pass@2": 0.3, "naive@2": 0.5, "avg@2": 0.1}
    )
    assert ns == [1, 2]
    assert curves == {"maj": [0.1, 0.2], "pass": [0.1, 0.3]}  # naive lacks n=1


FAKE_KEY = "sk-ttscaleFAKEkey0123456789abcdef"


def _tracking(tmp_path):
    return SimpleNamespace(
        name="wandb", project="ttscale", entity=None, mode="offline", group=None, dir=str(tmp_path)
    )


@pytest.mark.slow
def test_offline_run_logs_curves_samples_and_merge(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    rows = [
        {"unique_id": "p0", "level": 1, "problem": "Compute 1+1.", "answer": "2",
         "completions": ["1+1=2\n\nThe answer is \\boxed{2}", f"leaked {FAKE_KEY}"],
         "answers": ["2", ""], "correct": [True, False], "agg_scores": [0.9, 0.1],
         "temperatures": [0.8, 0.8]},
    ]  # fmt: skip
    metrics = {"maj@1": 0.25, "maj@2": 0.5, "pass@1": 0.5, "pass@2": 0.75, "tokens": 12.0}
    config = {"model": {"name": "toy", "api_key": FAKE_KEY}, "n": 2}
    name = "ttscale_arith--T-0.8--top_p-1.0--n-2--seed-0--agg_strategy-last"
    shard = Tracker(_tracking(tmp_path), config=config, name=f"{name}--chunk-0_1", group=name)
    shard.log_summary(metrics, rows)
    shard.finish()
    merge = Tracker(_tracking(tmp_path), config=config, name=name, job_type="merge")
    merge.log_merged(metrics | {"maj@2": 0.625}, rows, chunks=2, missing=["chunk-1_2"])
    merge.finish()

    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    for run in runs:
        tables = {  # files are named {key}[_table]_{step}_{hash}.table.json
            re.sub(r"(_table)?_\d+_[0-9a-f]+\.table\.json$", "", p.name): json.loads(p.read_text())
            for p in (run / "files" / "media" / "table").glob("*.table.json")
        }
        curve = tables["accuracy_vs_n"]  # the line_series plot's data
        assert {(row[1], row[0]) for row in curve["data"]} >= {("maj@n", 1), ("pass@n", 2)}
        sample = tables["samples"]
        assert sample["columns"][:5] == ["unique_id", "level", "problem", "gold", "completion"]
        assert sample["data"][0][4].endswith("\\boxed{2}") and sample["data"][1][6] is False
        (log,) = run.glob("*.wandb")
        data = _flushed(log, b"model.name")
        assert name.encode() in data  # the group: the run name, shared by shard and merge
        assert b"model.name" in data
    logs = [next(r.glob("*.wandb")) for r in runs]
    merged = next(log for log in logs if b"merge" in _flushed(log, b"model.name"))
    data = _flushed(merged, b"merge/missing_chunks")
    assert b"merge/missing_chunks" in data and b"0.625" in data
    for path in tmp_path.rglob("*"):  # the planted key is nowhere on disk
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path
