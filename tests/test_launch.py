"""Sweep plans, missing-range detection, merge validation and the rerun command."""

from __future__ import annotations

import importlib.util
import json
import math
import shlex
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from tests.chunk_rows import fake_rows, plan_for, problems_of, summary_of, write_chunks
from ttscale.config import validate
from ttscale.data import shard_range
from ttscale.identity import fingerprint, identity
from ttscale.metrics import pass_at_k
from ttscale.paths import ROOT
from ttscale.run.evaluate import row_metrics
from ttscale.run.pipeline import select_problems
from ttscale.storage import LocalStore, build_store
from ttscale.sweep import (
    merge,
    merge_intervals,
    merge_sweep,
    missing_ranges,
    plan_runs,
    rerun_command,
    shards_for,
)
from ttscale.sweep.hydra import compose, compose_sweep


def test_shard_ranges_cover_uneven_sizes_contiguously():
    for total, count in [(10, 3), (7, 7), (100, 8), (5, 1)]:
        ranges = [shard_range(total, i, count) for i in range(count)]
        assert ranges[0][0] == 0 and ranges[-1][1] == total
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # no gap, no overlap
        sizes = [e - s for s, e in ranges]
        assert max(sizes) - min(sizes) <= 1
    assert [shard_range(10, i, 3) for i in range(3)] == [(0, 4), (4, 7), (7, 10)]


def test_more_shards_than_rows_gives_empty_shards_that_are_never_missing(tmp_path):
    plan = plan_for(tmp_path, "dataset.num_samples=3", "shard.count=5")
    assert plan.chunks == [(0, 1), (1, 2), (2, 3), (3, 3), (3, 3)]
    assert shards_for(plan, [(0, 3)]) == [0, 1, 2]  # the empty shards 3, 4 have nothing to rerun
    write_chunks(plan.store(), plan)
    assert merge(plan, progress=False).ok


def test_plan_respects_dataset_start(tmp_path):
    plan = plan_for(tmp_path, "dataset.start=10", "dataset.num_samples=5", "shard.count=2")
    assert plan.chunks == [(10, 13), (13, 15)] and plan.rows == (10, 15)


@pytest.mark.parametrize(
    ("covered", "missing"),
    [
        ([], [(0, 10)]),
        ([(0, 10)], []),
        ([(0, 3), (3, 10)], []),  # adjacent
        ([(0, 4), (2, 6), (8, 10)], [(6, 8)]),  # overlapping
        ([(7, 10), (0, 2)], [(2, 7)]),  # unsorted
        ([(0, 5), (5, 5)], [(5, 10)]),  # empty ranges cover nothing
        ([(-3, 1), (9, 20)], [(1, 9)]),  # outside [lo, hi)
    ],
)
def test_missing_ranges(covered, missing):
    assert missing_ranges(0, 10, covered) == missing


def test_merge_intervals_coalesces():
    assert merge_intervals([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == [(0, 3), (5, 9)]


def test_sweep_expands_like_hydra_and_groups_shards(tmp_path):
    cfgs = compose_sweep(
        ["-m", f"storage.results_dir={tmp_path}", "n=2,4", "dataset.num_samples=4"]
        + ["shard.count=2", "shard.index=0,1", "seed=range(0,2)"]
    )
    assert len(cfgs) == 4  # shard.index is dropped, n x seed remain
    plans = plan_runs(cfgs + cfgs)  # duplicates group into the same runs
    assert sorted(p.name for p in plans) == sorted(
        f"ttscale_arith--T-0.8--top_p-1.0--n-{n}--seed-{s}--agg_strategy-last"
        for n in (2, 4)
        for s in (0, 1)
    )
    assert all(p.chunks == [(0, 2), (2, 4)] for p in plans)
    assert all(not any("shard." in o for o in p.overrides) for p in plans)


def test_plan_from_configs_without_hydra_node(tmp_path):
    from omegaconf import OmegaConf

    cfg = compose(f"storage.results_dir={tmp_path}", "dataset.num_samples=5", "shard.count=2")
    for c in (cfg, OmegaConf.to_container(cfg, resolve=True)):  # DictConfig or plain dict
        (plan,) = plan_runs([c])
        assert plan.chunks == [(0, 3), (3, 5)] and plan.overrides == []
        assert plan.cfg.shard.count == 2 and plan.cfg.shard.index == 0


def test_merge_writes_rows_in_order_and_recomputes_metrics(tmp_path):
    plan = plan_for(tmp_path, "dataset.num_samples=7", "shard.count=3", "n=2")
    store = plan.store()
    write_chunks(store, plan)
    report = merge(plan, progress=False)
    assert report.ok and report.rows == 7 and report.missing == [] and report.bad == []
    rows = pq.read_table(report.path).to_pylist()
    assert [r["index"] for r in rows] == list(range(7))
    expected = fake_rows(problems_of(plan))
    assert [r["unique_id"] for r in rows] == [r["unique_id"] for r in expected]
    summary = json.loads(store.merged_path(plan.name).with_suffix(".json").read_text())
    m = summary["metrics"]
    assert summary["num_problems"] == 7 and summary["chunks"] == [
        "chunk-0_3",
        "chunk-3_5",
        "chunk-5_7",
    ]
    # Closed forms over all rows, computed here independently of the merge.
    assert m["avg@2"] == pytest.approx(sum(sum(r["correct"]) / 2 for r in expected) / 7)
    assert m["pass@1"] == pytest.approx(
        sum(pass_at_k(2, sum(r["correct"]), 1) for r in expected) / 7
    )
    assert m["tokens"] == pytest.approx(sum(r["generated_tokens"] for r in expected) / 7)
    assert m["naive@2"] == pytest.approx(
        sum(r["correct"][max((0, 1), key=lambda i: r["agg_scores"][i])] for r in expected) / 7
    )


def test_remerge_is_idempotent(tmp_path):
    plan = plan_for(tmp_path, "dataset.num_samples=4", "shard.count=2")
    write_chunks(plan.store(), plan)
    first = Path(merge(plan, progress=False).path)
    before = (first.read_bytes(), first.with_suffix(".json").read_bytes())
    assert Path(merge(plan, progress=False).path) == first
    assert (first.read_bytes(), first.with_suffix(".json").read_bytes()) == before


def test_missing_shard_is_reported_with_the_command_that_reruns_it(tmp_path, capsys):
    overrides = [f"storage.results_dir={tmp_path}", "dataset.num_samples=8", "n=2", "shard.count=4"]
    cfgs = compose_sweep(overrides)
    (plan,) = plan_runs(cfgs)
    store = plan.store()
    write_chunks(store, plan, skip=(2,))
    report = merge(plan, progress=False)
    assert not report.ok and report.missing == [(4, 6)] and report.path is None
    assert not store.merged_path(plan.name).exists()  # nothing partial is written
    assert merge_sweep(cfgs, progress=False) == 1
    out = capsys.readouterr().out
    assert "missing rows: [4, 6)" in out and rerun_command(plan, [(4, 6)]) in out


def _reran_ranges(command: str) -> list[tuple[int, int]]:
    """Parse a rerun command back as run.py would, and return the rows its tasks cover."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "run.py", "-m"]
    parsed = OverridesParser.create().parse_overrides(argv[3:])
    sweep = next(o for o in parsed if o.key_or_group == "shard.index")
    fixed = [o.input_line for o in parsed if o is not sweep]
    ranges = []
    indices = sweep.sweep_string_iterator() if sweep.is_sweep_override() else [sweep.value()]
    for i in indices:
        run = validate(compose(*fixed, f"shard.index={i}"))
        _, start, end = select_problems(run)
        ranges.append((start, end))
    return ranges


def test_rerun_command_reruns_exactly_the_missing_shards(tmp_path):
    plan = plan_for(tmp_path, "dataset.num_samples=10", "n=2", "shard.count=4", "seed=3")
    assert plan.chunks == [(0, 3), (3, 6), (6, 8), (8, 10)]
    command = rerun_command(plan, [(3, 6), (8, 10)])
    assert "shard.index=1,3" in command and "seed=3" in command
    assert _reran_ranges(command) == [(3, 6), (8, 10)]
    # A gap inside one shard reruns only that shard.
    assert _reran_ranges(rerun_command(plan, [(7, 8)])) == [(6, 8)]


def test_rerun_command_keeps_the_launcher(tmp_path):
    cfgs = compose_sweep(
        [f"storage.results_dir={tmp_path}", "hydra/launcher=submitit_local", "n=2"]
        + ["dataset.num_samples=4", "shard.count=2"]
    )
    (plan,) = plan_runs(cfgs)
    command = rerun_command(plan, [(2, 4)])
    assert command.startswith("python run.py -m hydra/launcher=submitit_local ")
    assert command.endswith(" n=2 dataset.num_samples=4 shard.count=2 shard.index=1")


def test_rerun_command_hides_a_secret_override(tmp_path):
    plan = plan_for(
        tmp_path, "dataset.num_samples=4", "shard.count=2", "+model.api_key=sk-CANARY-123456"
    )
    command = rerun_command(plan, [(0, 2)])
    assert "sk-CANARY" not in command and "+model.api_key=***" in command


def test_merge_logs_merged_metrics_when_tracking_is_on(tmp_path, monkeypatch):
    logged = []

    class FakeTracker:
        def __init__(self, tracking, *, config, name, job_type):
            logged.append((tracking.name, name, job_type))

        def log_merged(self, metrics, rows, *, chunks):
            logged.append((metrics, len(rows), chunks))

        def finish(self):
            logged.append("finished")

    monkeypatch.setattr("ttscale.run.tracking.Tracker", FakeTracker)
    plan = plan_for(tmp_path, "dataset.num_samples=4", "shard.count=2", "tracking=wandb")
    write_chunks(plan.store(), plan)
    report = merge(plan, progress=False)
    assert logged == [("wandb", plan.name, "merge"), (report.metrics, 4, 2), "finished"]


def test_chunks_of_another_shard_count_fill_the_gaps(tmp_path):
    old = plan_for(tmp_path, "dataset.num_samples=6", "shard.count=2")
    new = plan_for(tmp_path, "dataset.num_samples=6", "shard.count=3")
    store = old.store()
    write_chunks(store, old, skip=(1,))  # rows [0, 3)
    write_chunks(store, new, skip=(0,))  # rows [2, 6)
    report = merge(new, progress=False)
    assert report.ok and report.rows == 6
    assert [r["index"] for r in pq.read_table(report.path).to_pylist()] == list(range(6))


def test_row_metrics_is_what_evaluate_uses(tmp_path):
    # The merge recomputes metrics with row_metrics; evaluate's per-problem metrics are the same
    # function, which is what makes merged metrics equal an unsharded run's.
    plan = plan_for(tmp_path, "dataset.num_samples=2")
    row = fake_rows(problems_of(plan))[1]
    assert row_metrics(row)["avg@2"] == 0.5 and "weighted@2" in row_metrics(row)


def test_build_store_follows_storage(tmp_path):
    plan = plan_for(tmp_path, "dataset.num_samples=2")
    store = build_store(plan.cfg)
    fp = fingerprint(identity(plan.cfg))
    assert isinstance(store, LocalStore)
    assert store.run_dir("r") == tmp_path / f"toy-policy/toy-prm/best_of_n/{fp}/r"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "short", "duplicate"])
def test_merge_names_a_bad_chunk_and_merges_nothing_wrong(tmp_path, damage, capsys):
    overrides = [f"storage.results_dir={tmp_path}", "dataset.num_samples=6", "shard.count=3"]
    cfgs = compose_sweep(overrides)
    (plan,) = plan_runs(cfgs)
    store = plan.store()
    write_chunks(store, plan)
    bad = store.chunk_path(plan.name, 2, 4)
    data = bad.read_bytes()
    if damage == "garbage":
        bad.write_bytes(b"not parquet at all" * 10)
    elif damage == "truncated":  # a writer killed half way, without atomic writes
        bad.write_bytes(data[: len(data) // 2])
    else:  # valid parquet, wrong rows: one row lost, or one row twice
        rows = store.read_chunk(plan.name, 2, 4)
        rows = rows[:1] if damage == "short" else [rows[0], rows[0]]
        store.write_chunk(plan.name, 2, 4, rows, summary_of(plan))
    report = merge(plan, progress=False)
    assert report.missing == [(2, 4)] and not report.ok
    assert len(report.bad) == 1 and str(bad) in report.bad[0]
    assert not store.merged_path(plan.name).exists()
    assert merge_sweep(cfgs, progress=False) == 1
    assert f"invalid chunk: {bad}" in capsys.readouterr().out
    # The rerun rewrites it (has_chunk is False for a bad chunk); then everything merges.
    assert not store.has_chunk(plan.name, 2, 4)
    write_chunks(store, plan, skip=(0, 2))
    assert merge(plan, progress=False).ok


def _close(a: Any, b: Any) -> bool:
    """Equal, except floats that only need to agree to 1e-4 (relative): the toy PRM's score
    is a sigmoid of a sum of ~60 float32 log-probabilities, whose absolute rounding (about
    1e-5) becomes the score's relative error."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-4)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sharded_run_with_a_lost_shard_resubmits_and_merges_to_the_unsharded_run(
    tmp_path, capsys, policy_path, prm_path
):
    from ttscale.run.pipeline import main

    find_missing, merge_chunks = _script("find_missing"), _script("merge_chunks")
    common = [
        "progress=false",
        "n=2",
        "dataset.num_samples=2",
        "max_tokens=48",
        "grading.workers=1",
    ]
    sharded = [f"storage.results_dir={tmp_path / 'sharded'}", *common, "shard.count=2"]
    main(compose(*sharded, "shard.index=0"))  # shard 1 never ran (a killed array task)
    assert merge_chunks.main([*sharded, "--no-progress"]) == 1
    assert find_missing.main(sharded) == 1
    out = capsys.readouterr().out
    assert "missing rows: [1, 2)" in out and "shard.count=2 shard.index=1" in out
    assert find_missing.main([*sharded, "--resubmit", "--launcher", "local"]) == 0
    assert merge_chunks.main([*sharded, "--no-progress"]) == 0

    single = main(compose(f"storage.results_dir={tmp_path / 'single'}", *common))
    (plan,) = plan_runs(compose_sweep(sharded))
    merged_path = plan.store().merged_path(plan.name)
    merged = pq.read_table(merged_path).to_pylist()
    alone = pq.read_table(single["path"]).to_pylist()
    for row in merged + alone:
        row.pop("search_seconds")  # wall time
        row["tree"] = json.loads(row["tree"])
    # Same completions, answers, grades and picks; PRM scores agree to float precision only,
    # because the PRM batches different problems together (padding) in the two runs.
    assert _close(merged, alone)
    metrics = json.loads(merged_path.with_suffix(".json").read_text())["metrics"]
    assert metrics == pytest.approx(single["metrics"])


def test_find_missing_dry_run_prints_the_slurm_command(tmp_path, capsys):
    find_missing = _script("find_missing")
    args = [f"storage.results_dir={tmp_path}", "dataset.num_samples=4", "n=2,4", "shard.count=2"]
    assert find_missing.main([*args, "--resubmit", "--launcher", "slurm", "--dry-run"]) == 1
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("python run.py")]
    assert len(lines) == 2 and all("hydra/launcher=" in x for x in lines)
    assert all(x.endswith("shard.count=2 shard.index=0,1") for x in lines)
