"""Discovery, filters, Hub config names, difficulty bins and the bootstrap (no model runs)."""

from __future__ import annotations

import pytest

from ttscale.analysis.discover import discover_local, filter_runs, hub_runs
from ttscale.analysis.stats import bootstrap_ci, level_of_rate

BON = "ttscale_arith--T-0.8--top_p-1.0--n-4--seed-{s}--agg_strategy-last"
BEAM = "HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-16--seed-0--agg_strategy-last--m-4--iters-40--look-0"


def _touch(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_local_layout_merged_chunks_and_anchor_files(tmp_path) -> None:
    run0 = tmp_path / "toy-policy" / "best_of_n" / BON.format(s=0)
    _touch(run0 / "chunk-0_2.parquet")
    _touch(run0 / "chunk-2_4.parquet")
    run1 = tmp_path / "toy-policy" / "best_of_n" / BON.format(s=1)
    _touch(run1 / "chunk-0_4.parquet")
    _touch(run1 / "merged.parquet")  # a merged run is read from its merged file alone
    _touch(tmp_path / "old" / f"{BEAM}.parquet")  # search-and-learn: a file named after its run
    _touch(tmp_path / "notes" / "scratch.parquet")  # neither: skipped
    runs = {r.key: r for r in discover_local(tmp_path)}
    assert set(runs) == {
        f"toy-policy/best_of_n/{BON.format(s=0)}",
        f"toy-policy/best_of_n/{BON.format(s=1)}",
        f"unknown/beam_search/{BEAM}",
    }
    assert [p.name for p in runs[f"toy-policy/best_of_n/{BON.format(s=0)}"].files] == [
        "chunk-0_2.parquet",
        "chunk-2_4.parquet",
    ]
    assert [p.name for p in runs[f"toy-policy/best_of_n/{BON.format(s=1)}"].files] == [
        "merged.parquet"
    ]
    assert runs[f"unknown/beam_search/{BEAM}"].name.beam_width == 4
    kept = filter_runs(list(runs.values()), ["best_of_n", "seed-1"])
    assert [r.name.seed for r in kept] == [1]
    assert len(filter_runs(list(runs.values()), ["*MATH-500*m-4*"])) == 1


def test_missing_folder_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        discover_local(tmp_path / "nope")


def test_hub_config_names() -> None:
    files = [
        "README.md",
        f"{BEAM}/train-00000-of-00001.parquet",
        f"data/{BON.format(s=2)}/train-00000.parquet",
        f"{BON.format(s=3)}--chunk-0_50/train.parquet",  # a chunk branch's files: not a run
        "random/stuff.parquet",
    ]
    runs = hub_runs("user/runs", files, model="llama-1b")
    assert [(r.approach, r.name.seed, r.hub) for r in runs] == [
        ("beam_search", 0, ("user/runs", BEAM)),
        ("best_of_n", 2, ("user/runs", BON.format(s=2))),
    ]
    assert all(r.model == "llama-1b" and not r.files for r in runs)


@pytest.mark.parametrize(
    ("rate", "level"),
    [(1.0, 1), (0.8, 1), (0.7999, 2), (0.6, 2), (0.4, 3), (0.2, 4), (0.1999, 5), (0.0, 5)],
)
def test_difficulty_bins_are_half_open(rate: float, level: int) -> None:
    assert level_of_rate(rate) == level


def test_bootstrap_ci() -> None:
    values = [0.0] * 50 + [1.0] * 50
    lo, hi = bootstrap_ci(values, seed=1)
    assert lo < 0.5 < hi and hi - lo < 0.3
    assert bootstrap_ci(values, seed=1) == (lo, hi)  # reproducible
    assert bootstrap_ci([0.7] * 10) == pytest.approx((0.7, 0.7))
    with pytest.raises(ValueError, match="solve rate"):
        level_of_rate(1.5)


def test_runs_whose_problems_end_with_different_n_get_full_set_metrics():
    """Backtracking returns 1..n completions per problem: no maj@N exists for every problem,
    so ``@all`` is each problem's own full set, checked here by hand (brute force)."""
    from collections import Counter

    from ttscale.analysis.load import Problem
    from ttscale.analysis.stats import per_problem

    problems = [
        # 3 completions: answers 0, 0, 1; cluster 0 is right; PRM prefers cluster 1
        Problem("a", 1, [0, 0, 1], [True, True, False], [0.1, 0.2, 0.9], None, 30.0, 40.0),
        # 1 completion, wrong
        Problem("b", 2, [5], [False], [0.5], None, 10.0, 12.0),
    ]
    rows = per_problem(problems, seed=0)
    for p, r in zip(problems, rows):
        votes = Counter(p.labels)
        weights = Counter()
        for label, s in zip(p.labels, p.scores):
            weights[label] += s
        right = {lab for lab, c in zip(p.labels, p.correct) if c}
        assert r["maj@all"] == float(votes.most_common(1)[0][0] in right)
        assert r["weighted@all"] == float(max(weights, key=weights.get) in right)
        assert r["naive@all"] == float(
            p.correct[max(range(len(p.scores)), key=p.scores.__getitem__)]
        )
        assert r["pass@all"] == float(any(p.correct))
    assert [r["maj@all"] for r in rows] == [1.0, 0.0]
    assert [r["weighted@all"] for r in rows] == [0.0, 0.0]


def test_search_and_learns_local_output_is_found(tmp_path) -> None:
    # sal's save_dataset: {output_dir or data/{model_path}}/{approach}_completions.jsonl
    _touch(tmp_path / "data" / "meta-llama" / "Llama-3.2-1B-Instruct" / "dvts_completions.jsonl")
    (run,) = discover_local(tmp_path)
    assert (run.model, run.approach) == ("meta-llama/Llama-3.2-1B-Instruct", "dvts")
    assert run.files[0].name == "dvts_completions.jsonl" and run.name.schedule == "unknown"


def test_runs_whose_names_agree_but_identities_differ_are_listed_apart(tmp_path) -> None:
    from tests.chunk_rows import plan_for, write_chunks

    for extra in ("max_tokens=64", "max_tokens=128"):
        plan = plan_for(tmp_path, "dataset.num_samples=4", extra)
        write_chunks(plan.store(), plan)
    runs = discover_local(tmp_path)
    assert len(runs) == 2 and runs[0].name.base == runs[1].name.base
    assert runs[0].key != runs[1].key and runs[0].variant != runs[1].variant
    assert {r.model for r in runs} == {"toy-policy + toy-prm"}
