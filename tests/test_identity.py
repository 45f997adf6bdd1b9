"""Run identity: what it covers, and every reader's refusal of another run's rows."""

from __future__ import annotations

import json

import pytest

from tests.chunk_rows import fake_rows, plan_for, problems_of, summary_of, write_chunks
from ttscale.config import ConfigError, validate
from ttscale.identity import differences, fingerprint, identity, run_prefix
from ttscale.storage import IdentityError, LocalStore, read_summary
from ttscale.sweep import check, merge
from ttscale.sweep.hydra import compose


def _fp(*overrides: str) -> str:
    run = validate(compose(*overrides))
    return fingerprint(identity(run))


BASE = _fp()


@pytest.mark.parametrize(
    "override",
    [
        "max_tokens=128",
        "n=8",
        "seed=1",
        "temperature=0.6",
        "top_p=0.9",
        "agg_strategy=min",
        "model.system_prompt=Be brief.",
        "+model.chat_template_kwargs={enable_thinking: false}",
        "model.dtype=bfloat16",
        "prm=oracle",
        "dataset.split=train",
        "grading.timeout=1.0",
        "approach=beam_search",
        "temps=hnc",
    ],
)
def test_a_change_that_can_change_a_row_changes_the_identity(override) -> None:
    assert _fp(override) != BASE, override


def test_every_approach_option_is_part_of_the_identity() -> None:
    plain = _fp("approach=beam_search", "approach.beam_width=4")
    assert _fp("approach=beam_search", "approach.filter_duplicates=true") != plain
    assert _fp("approach=beam_search", "approach.lookahead=1") != plain
    assert _fp("prm=oracle", "prm.noise=0.2") != _fp("prm=oracle")


@pytest.mark.parametrize(
    "override",
    [
        "progress=false",
        "threads=1",
        "overwrite=true",
        "checkpoint_every=5",
        "grading.workers=1",
        "storage.results_dir=/elsewhere",
        "tracking=wandb",
        "metrics.draws=7",
        "dataset.num_samples=7",
        "dataset.start=3",
        "shard.count=4",
        "model.batch_size=8",
        "prm.batch_size=8",
    ],
)
def test_settings_that_cannot_change_a_row_keep_the_identity(override) -> None:
    assert _fp(override) == BASE, override


def test_a_run_without_a_prm_does_not_depend_on_the_prm_config() -> None:
    assert _fp("approach=majority") == _fp("approach=majority", "prm=oracle")
    run = validate(compose("approach=majority", "prm=oracle"))
    assert run_prefix(run).split("/")[1] == "none"


def test_the_identity_holds_no_secret_and_survives_a_moved_checkout() -> None:
    run = validate(compose("model=toy-openai", "model.api_key=sk-planted-secret-123456"))
    ident = identity(run)
    assert "sk-planted" not in json.dumps(ident) and "model.api_key" not in ident
    assert ident["model.path"] == "models/toy-policy"  # relative to the checkout


def test_differences_name_the_keys() -> None:
    assert differences({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b: 2 -> 3"]
    assert differences(None, {"a": 1}) == ["(no identity recorded)"]


def test_results_folders_show_model_prm_and_fingerprint() -> None:
    run = validate(compose("prm=oracle"))
    model, prm, approach, fp = run_prefix(run).split("/")
    assert (model, prm, approach) == ("toy-policy", "oracle", "best_of_n")
    assert fp == fingerprint(identity(run))


# -- every reader refuses another run's chunk ---------------------------------------------------


def _foreign(plan, tmp_path, *overrides):
    """Write ``plan``'s chunks where it reads them, but with another run's identity."""
    other = plan_for(tmp_path / "results", "dataset.num_samples=6", "shard.count=2", *overrides)
    store = plan.store()
    by_index = {p.index: p for p in problems_of(plan)}
    for s, e in plan.chunks:
        rows = fake_rows([by_index[j] for j in range(s, e)])
        store.write_chunk(plan.name, s, e, rows, summary_of(other))
    return store


def test_merge_and_find_missing_refuse_chunks_of_another_identity(tmp_path) -> None:
    plan = plan_for(tmp_path / "results", "dataset.num_samples=6", "shard.count=2")
    _foreign(plan, tmp_path, "max_tokens=64")
    report = merge(plan, progress=False)
    assert not report.ok and report.path is None and report.missing == [(0, 6)]
    assert len(report.bad) == 2 and all("max_tokens: 64 -> 256" in b for b in report.bad)
    assert check(plan).bad == report.bad  # find_missing's view


def test_a_chunk_without_its_summary_is_invalid(tmp_path) -> None:
    plan = plan_for(tmp_path / "results", "dataset.num_samples=6", "shard.count=2")
    store = plan.store()
    write_chunks(store, plan)
    path = store.chunk_path(plan.name, 0, 3)
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(path).replace_schema_metadata({}), path)  # the summary lost
    assert read_summary(path) is None and not store.has_chunk(plan.name, 0, 3)
    report = merge(plan, progress=False)
    assert report.missing == [(0, 3)] and "no summary" in report.bad[0]


def test_the_pipeline_refuses_to_skip_or_overwrite_another_runs_chunk(tmp_path) -> None:
    from ttscale.run.pipeline import main

    overrides = ("dataset.num_samples=6", "shard.count=2")
    plan = plan_for(tmp_path / "results", *overrides)
    store = _foreign(plan, tmp_path, "seed=5")
    with pytest.raises(IdentityError, match="seed: 5 -> 0"):
        store.has_chunk(plan.name, 0, 3)
    cfg = compose(f"storage.results_dir={tmp_path / 'results'}", "progress=false", *overrides)
    with pytest.raises(ConfigError, match="written by a run with other settings"):
        main(cfg)  # before any model loads


def test_the_analysis_refuses_a_folder_that_mixes_identities(tmp_path) -> None:
    from ttscale.analysis.discover import discover_local

    plan = plan_for(tmp_path / "results", "dataset.num_samples=6", "shard.count=2")
    store = plan.store()
    write_chunks(store, plan, skip=(1,))
    other = plan_for(tmp_path / "results", "dataset.num_samples=6", "shard.count=2", "n=4")
    rows = fake_rows([p for p in problems_of(plan) if p.index >= 3])
    store.write_chunk(plan.name, 3, 6, rows, summary_of(other))
    with pytest.raises(ValueError, match=r"n: 4 -> 16|n: 16 -> 4") as err:
        discover_local(tmp_path / "results")
    assert "chunk-0_3.parquet" in str(err.value) and "chunk-3_6.parquet" in str(err.value)


def test_the_analysis_never_keeps_the_first_of_two_different_rows() -> None:
    from ttscale.analysis.load import _dedupe

    a = {"unique_id": "p1", "correct": [True], "search_seconds": 1.0}
    assert _dedupe([a, dict(a, search_seconds=2.0)]) == [a]  # same results: one row
    with pytest.raises(ValueError, match="p1 appears twice"):
        _dedupe([a, dict(a, correct=[False])])


def test_local_store_checks_identity_on_every_read(tmp_path) -> None:
    store = LocalStore(tmp_path, "m", identity={"n": 2})
    rows = [{"index": 0, "unique_id": "a"}]
    store.write_chunk(
        "run", 0, 1, rows, {"fingerprint": fingerprint({"n": 2}), "identity": {"n": 2}}
    )
    assert store.read_chunk("run", 0, 1) == rows
    other = LocalStore(tmp_path, "m", identity={"n": 4})
    with pytest.raises(IdentityError, match="n: 2 -> 4"):
        other.read_chunk("run", 0, 1)


def test_a_model_retrained_in_place_changes_the_identity(tmp_path) -> None:
    """A path is not enough: new weights at the same path are another run."""
    import shutil

    from tests.conftest import ROOT

    prm = tmp_path / "prm"
    shutil.copytree(ROOT / "models" / "toy-prm", prm)
    before = _fp(f"prm.path={prm}")
    (prm / "learn.json").write_text("{}")  # notes beside the weights do not count
    assert _fp(f"prm.path={prm}") == before
    weights = prm / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last weight
    weights.write_bytes(bytes(data))
    assert _fp(f"prm.path={prm}") != before


def test_a_dataset_file_edited_in_place_changes_the_identity(tmp_path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"problem": "1+1", "answer": "2", "unique_id": "a"}\n')
    args = ("dataset=math500", "dataset.source=file", f"dataset.path={data}")
    before = _fp(*args)
    data.write_text('{"problem": "1+1", "answer": "3", "unique_id": "a"}\n')
    assert _fp(*args) != before
