"""Every step-level approach end to end on the committed tiny models, through the pipeline."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from ttscale.run.pipeline import main

SMALL = {
    "beam_search": ["approach.beam_width=2"],
    "dvts": ["approach.beam_width=2", "approach.lookahead=1"],
    "collective_backtrack": ["approach.max_steps=12"],
    "independent_backtrack": ["approach.max_steps=12"],
}


@pytest.mark.slow
@pytest.mark.parametrize("approach", SMALL)
def test_step_search_end_to_end(make_cfg, policy_path, prm_path, approach):
    cfg = make_cfg(
        f"approach={approach}",
        "n=4",
        "dataset.num_samples=3",
        f"model.path={policy_path}",
        f"prm.path={prm_path}",
        *SMALL[approach],
    )
    summary = main(cfg)
    assert summary["num_problems"] == 3 and "tokens" in summary["metrics"]
    rows = pq.read_table(summary["path"]).to_pylist()
    assert len(rows) == 3
    for row in rows:
        tree = json.loads(row["tree"])
        counters = json.loads(row["counters"])
        assert row["completions"] and len(row["completion_tokens"]) == len(row["completions"])
        if approach in ("beam_search", "dvts"):
            assert len(row["completions"]) == 4
        assert all(t > 0 for t in row["completion_tokens"])
        assert row["generated_tokens"] == sum(x["tokens"] + x["lookahead_tokens"] for x in tree)
        assert row["prm_tokens"] > 0 and row["generate_calls"] >= 1 and row["prm_calls"] >= 1
        assert counters["steps"] >= 1 and all(len(s) >= 1 for s in row["scores"])
        assert {"id", "parent", "text", "score", "temperature", "kept"} <= set(tree[0])


@pytest.mark.slow
def test_beam_search_with_the_exact_checker_as_prm(make_cfg, policy_path):
    cfg = make_cfg(
        "approach=beam_search",
        "prm=oracle",
        "n=4",
        "approach.beam_width=2",
        "dataset.num_samples=3",
        f"model.path={policy_path}",
    )
    rows = pq.read_table(main(cfg)["path"]).to_pylist()
    # The oracle scores every step exactly, so a kept first step is never worse than a
    # pruned sibling.
    for row in rows:
        tree = json.loads(row["tree"])
        first = [x for x in tree if x["parent"] is None]
        kept = [x["score"] for x in first if x["kept"] and x["score"] is not None]
        dropped = [x["score"] for x in first if not x["kept"] and x["score"] is not None]
        if kept and dropped and not any(x["done"] for x in first):
            assert min(kept) >= max(dropped)
