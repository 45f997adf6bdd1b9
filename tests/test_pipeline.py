"""End to end on the committed tiny models: run, write, resume, and check the numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ttscale.metrics import pass_at_k
from ttscale.run.pipeline import main

pytestmark = pytest.mark.slow

SAL_COLUMNS = {
    "problem",
    "answer",
    "completions",
    "scores",
    "pred",
    "completion_tokens",
    "pred_naive@4",
    "pred_weighted@4",
    "pred_maj@4",
    "pred_maj@1",
}


@pytest.fixture(scope="module")
def best_of_n(tmp_path_factory, policy_path, prm_path):
    from tests.conftest import compose

    out = tmp_path_factory.mktemp("e2e")
    cfg = compose(
        f"storage.results_dir={out}", "progress=false", "n=4", "dataset.num_samples=6", "seed=3"
    )
    summary = main(cfg)
    return cfg, summary, out


def test_writes_parquet_and_summary_with_anchor_columns(best_of_n):
    _, summary, _ = best_of_n
    path = Path(summary["path"])
    assert path.name == "chunk-0_6.parquet"
    assert path.parent.name == "ttscale_arith--T-0.8--top_p-1.0--n-4--seed-3--agg_strategy-last"
    rows = pq.read_table(path).to_pylist()
    assert len(rows) == 6 and set(rows[0]) >= SAL_COLUMNS
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk["metrics"] == summary["metrics"]
    for r in rows:
        assert len(r["completions"]) == len(r["scores"]) == len(r["completion_tokens"]) == 4
        assert r["temperatures"] == [0.8] * 4 and r["seed"] == 3
        assert all(len(s) >= 1 for s in r["scores"])  # one score per step, scored by the PRM
        assert r["generated_tokens"] == sum(r["completion_tokens"]) > 0
        assert r["prm_tokens"] > 0
        assert r["pred"] in r["completions"]


def test_summary_records_the_resolved_devices_and_versions(best_of_n):
    import torch
    import transformers

    _, summary, _ = best_of_n
    env = json.loads(Path(summary["path"]).with_suffix(".json").read_text())["environment"]
    assert summary["config"]["model"]["device"] == "auto"  # the config alone does not say
    device, dtype = ("cuda", "bfloat16") if torch.cuda.is_available() else ("cpu", "float32")
    # Both prefix caches are on by default (conf/model/toy.yaml, conf/prm/toy.yaml).
    assert env["prm"] == {"device": device, "dtype": dtype, "prefix_cache_mb": 1024}
    assert env["generator"] == {"backend": "hf", "device": device, "dtype": dtype,
                                "prefix_cache_mb": 1024}  # fmt: skip
    assert env["versions"]["torch"] == torch.__version__
    assert env["versions"]["transformers"] == transformers.__version__
    assert env["torch_threads"] == torch.get_num_threads()
    assert (env["gpu"] is None) == (not torch.cuda.is_available())


def test_summary_metrics_match_the_rows(best_of_n):
    _, summary, _ = best_of_n
    rows = pq.read_table(summary["path"]).to_pylist()
    m = summary["metrics"]
    # Independent recomputation of the metrics that have closed forms.
    assert m["avg@4"] == pytest.approx(sum(sum(r["correct"]) / 4 for r in rows) / 6)
    assert m["pass@4"] == pytest.approx(sum(any(r["correct"]) for r in rows) / 6)
    assert m["pass@2"] == pytest.approx(sum(pass_at_k(4, sum(r["correct"]), 2) for r in rows) / 6)
    assert m["naive@4"] == pytest.approx(sum(r["is_correct"] for r in rows) / 6)
    assert m["tokens"] == pytest.approx(sum(r["generated_tokens"] for r in rows) / 6)
    for r in rows:  # the grader agrees with the exact answer
        for ans, ok in zip(r["answers"], r["correct"]):
            assert ok == (ans.strip() == r["answer"])


def test_rerun_skips_a_complete_chunk(best_of_n, capsys):
    cfg, summary, _ = best_of_n
    before = Path(summary["path"]).stat().st_mtime_ns
    again = main(cfg)
    assert again.get("skipped") is True
    assert Path(summary["path"]).stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [("prm=oracle", "prm.name", "oracle"), ("max_tokens=100", "max_tokens", 100)],
)
def test_a_rerun_with_settings_the_name_leaves_out_gets_its_own_folder(
    best_of_n, override, key, value
):
    """prm and max_tokens are not in the anchors' run name: the run identity keeps such a
    run apart, so it never skips (and hands back) the other settings' results."""
    from tests.conftest import compose

    _, summary, out = best_of_n
    before = Path(summary["path"]).stat().st_mtime_ns
    cfg = compose(
        f"storage.results_dir={out}", "progress=false", "n=4", "dataset.num_samples=6", "seed=3",
        override,
    )  # fmt: skip
    other = main(cfg)
    assert not other.get("skipped") and other["identity"][key] == value
    assert Path(other["path"]).name == Path(summary["path"]).name  # the anchors' name
    assert Path(other["path"]).parent.name == Path(summary["path"]).parent.name
    assert other["path"] != summary["path"] and other["fingerprint"] != summary["fingerprint"]
    assert Path(summary["path"]).stat().st_mtime_ns == before  # nothing was touched


def test_same_seed_same_results_across_shards(make_cfg, policy_path, prm_path):
    """Two shards reproduce the unsharded run row for row (seeds are per problem)."""
    whole = main(make_cfg("approach=majority", "n=3", "dataset.num_samples=4"))
    parts = [
        main(
            make_cfg(
                "approach=majority",
                "n=3",
                "dataset.num_samples=4",
                f"shard.index={i}",
                "shard.count=2",
            )
        )
        for i in range(2)
    ]
    full = pq.read_table(whole["path"]).to_pylist()
    split = [r for p in parts for r in pq.read_table(p["path"]).to_pylist()]
    assert [r["completions"] for r in full] == [r["completions"] for r in split]
    assert [p["chunk"] for p in parts] == ["chunk-0_2", "chunk-2_4"]


def test_majority_needs_no_prm(make_cfg, policy_path):
    summary = main(make_cfg("approach=majority", "prm=none", "n=2", "dataset.num_samples=2"))
    rows = pq.read_table(summary["path"]).to_pylist()
    # a neutral step score per completion (search-and-learn's score() needs one); no PRM ran
    assert all(r["prm_tokens"] == 0 and r["scores"] == [[1.0], [1.0]] for r in rows)
    assert all(math.isnan(a) for r in rows for a in r["agg_scores"])
    assert "maj@2" in summary["metrics"] and "naive@2" not in summary["metrics"]


def test_exact_oracle_prm_picks_a_fully_correct_path(make_cfg, policy_path):
    from ttscale.prompts import split_steps
    from ttscale.toyworld.arith import check_steps

    summary = main(make_cfg("prm=oracle", "n=4", "dataset.num_samples=5"))
    rows = pq.read_table(summary["path"]).to_pylist()
    for r in rows:
        valid = [all(check_steps(r["problem"], split_steps(c))) for c in r["completions"]]
        assert [s[-1] == 1.0 for s in r["scores"]] == valid
        if any(valid):
            assert r["is_correct"] and all(check_steps(r["problem"], split_steps(r["pred"])))
