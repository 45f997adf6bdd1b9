"""The analysis CLI on real toy runs: its numbers against an independent computation."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ttscale.analysis.cli import main
from ttscale.analysis.discover import discover_local
from ttscale.analysis.load import load_run
from ttscale.analysis.stats import run_metrics

pytestmark = pytest.mark.slow


def _vote(labels, correct, weights, idx) -> float:
    """Expected accuracy of a (weighted) vote over completions ``idx``, ties split uniformly."""
    totals: dict[int, float] = {}
    for i in idx:
        if labels[i] >= 0:
            totals[labels[i]] = totals.get(labels[i], 0.0) + (
                1.0 if weights is None else weights[i]
            )
    if not totals:
        return 0.0
    best = max(totals.values())
    winners = [lab for lab, t in totals.items() if math.isclose(t, best, rel_tol=1e-9)]
    ok = {labels[i]: correct[i] for i in idx}
    return sum(ok[w] for w in winners) / len(winners)


def _naive(scores, correct, idx) -> float:
    best = max(scores[i] for i in idx)
    top = [i for i in idx if scores[i] == best]
    return sum(correct[i] for i in top) / len(top)


def _brute(row: dict, n: int) -> dict[str, float]:
    """Every n-subset enumerated: maj/weighted/naive@n, pass@n (any correct), avg."""
    labels, correct, scores = row["answer_labels"], row["correct"], row["agg_scores"]
    subsets = list(itertools.combinations(range(len(labels)), n))
    out = {
        f"maj@{n}": np.mean([_vote(labels, correct, None, s) for s in subsets]),
        f"pass@{n}": np.mean([any(correct[i] for i in s) for s in subsets]),
        "avg": np.mean(correct),
    }
    if scores is not None and not all(math.isnan(x) for x in scores):
        out[f"weighted@{n}"] = np.mean([_vote(labels, correct, scores, s) for s in subsets])
        out[f"naive@{n}"] = np.mean([_naive(scores, correct, s) for s in subsets])
    return out


def _rows(folder: Path) -> list[dict]:
    (path,) = folder.glob("chunk-*.parquet")
    return pq.read_table(path).to_pylist()


def _independent(folder: Path, n: int) -> dict[str, float]:
    per = [_brute(r, n) for r in _rows(folder)]
    out = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
    out["tokens"] = float(np.mean([r["generated_tokens"] for r in _rows(folder)]))
    return out


def _table(report: str, title: str) -> list[dict[str, str]]:
    """The markdown table under ``## title`` as dicts."""
    section = report.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in ln.strip("|").split("|")))) for ln in lines[2:]]


@pytest.fixture(scope="module")
def report(toy_results: Path, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report")
    assert main([str(toy_results), "--output-dir", str(out), "--analysis-type", "all"]) == 0
    return out, (out / "report.md").read_text()


def test_summary_numbers_match_an_independent_computation(toy_results, report) -> None:
    _, text = report
    rows = {(r["approach"], r["temperature"]): r for r in _table(text, "Summary")}
    assert len(rows) == 4  # best_of_n at T=0.8 (2 seeds), T=0.4, hnc; majority
    name = "ttscale_arith--T-0.8--top_p-1.0--n-4--seed-{}--agg_strategy-last"
    base = toy_results / "toy-policy" / "oracle" / "best_of_n"
    seeds = [_independent(next(base.glob(f"*/{name.format(s)}")), 4) for s in (0, 1)]
    row = rows[("best_of_n", "T=0.8")]
    assert row["seeds"] == "2" and row["problems"] == "4" and row["N"] == "4"
    for col, key in [("maj@N", "maj@4"), ("weighted@N", "weighted@4"), ("naive@N", "naive@4"),
                     ("pass@N", "pass@4"), ("avg@N", "avg")]:  # fmt: skip
        values = [s[key] for s in seeds]
        assert row[col] == f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}", col
    assert row["tokens/problem"] == f"{np.mean([s['tokens'] for s in seeds]):.0f}"
    maj = rows[("majority", "T=0.8")]
    ind = _independent(next((toy_results / "toy-policy" / "none" / "majority").glob("*/*")), 4)
    assert maj["maj@N"] == f"{100 * ind['maj@4']:.1f}" and maj["weighted@N"] == ""


def test_flops_per_problem_and_the_equal_flops_table(toy_results, report) -> None:
    """FLOPs/problem is the rows' mean flops; each approach is read at every run's budget."""
    from ttscale.analysis.compare import at_equal_cost
    from ttscale.analysis.plots import Series

    _, text = report
    rows = {r["approach"]: r for r in _table(text, "Approach comparison (equal compute)")
            if r["temperature"] == "T=0.8"}  # fmt: skip
    (folder,) = (toy_results / "toy-policy" / "none" / "majority").glob("*/*")
    flops = [r["flops"] for r in _rows(folder)]
    assert all(f > 0 for f in flops)
    assert rows["majority"]["FLOPs/problem"] == f"{np.mean(flops):.3g}"
    equal = _table(text, "toy-policy: approaches at equal FLOPs")
    assert equal and all(r["FLOPs/problem"] for r in equal)
    # log2-linear interpolation, nothing outside the curve's range
    s = Series("x", [1.0, 4.0], [0.2, 0.6])
    assert at_equal_cost(s, 2.0) == pytest.approx(0.4)
    assert math.isnan(at_equal_cost(s, 8.0)) and math.isnan(at_equal_cost(s, 0.5))


def test_subset_metrics_per_level_and_temperature(toy_results) -> None:
    runs = {r.key: r for r in discover_local(toy_results)}
    assert len(runs) == 5
    hnc = next(r for k, r in runs.items() if "interleaved_0.4_0.8" in k)
    m = run_metrics(hnc, load_run(hnc))
    folder = hnc.files[0].parent
    for n in (1, 2):  # C(4, n) <= draws: every subset is enumerated, so exact
        ind = _independent(folder, n)
        for key in (f"maj@{n}", f"weighted@{n}", f"naive@{n}", f"pass@{n}"):
            assert m.overall[key] == pytest.approx(ind[key], abs=1e-9), key
    rows = _rows(folder)
    for level in {r["level"] for r in rows}:
        mine = [r for r in rows if r["level"] == level]
        assert m.by_level[level]["avg@4"] == pytest.approx(
            np.mean([np.mean(r["correct"]) for r in mine])
        )
    for t in (0.4, 0.8):
        own = [
            np.mean([c for c, tt in zip(r["correct"], r["temperatures"]) if tt == t]) for r in rows
        ]
        assert m.by_temperature[t]["avg"] == pytest.approx(np.mean(own))
    lo, hi = m.ci["maj@4"]
    assert lo <= m.overall["maj@4"] <= hi


def test_every_analysis_type_writes_readable_plots(report) -> None:
    out, text = report
    for prefix in ("summary_", "approaches_", "temperatures_maj_", "temperatures_pass_",
                   "difficulty_", "models_"):  # fmt: skip
        pngs = list(out.glob(f"{prefix}*.png"))
        assert pngs, prefix
        for png in pngs:
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({png.name})" in text  # embedded in the report
    for title in ("Summary", "Approach comparison", "Temperature comparison",
                  "Pooled temperatures vs the best single one",
                  "Difficulty x temperature", "Model comparison"):  # fmt: skip
        assert f"## {title}" in text


def test_list_filter_no_plots_and_baseline_levels(toy_results, tmp_path, capsys) -> None:
    assert main([str(toy_results), "--list", "--filter", "best_of_n", "--filter", "seed-1"]) == 0
    assert "1 run(s)" in capsys.readouterr().out
    out = tmp_path / "a"
    args = [str(toy_results), "--output-dir", str(out), "--no-plots", "--levels", "baseline",
            "--analysis-type", "difficulty_temperature", "--filter", "best_of_n"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "solve rate at T=0.8" in printed and "L1" in printed
    assert not list(out.glob("*.png"))


def test_corrupt_chunk_is_named(toy_results, tmp_path, capsys) -> None:
    bad = tmp_path / "res" / "toy-policy" / "majority" / "ds--T-0.8--n-4--seed-0"
    bad.mkdir(parents=True)
    (bad / "chunk-0_4.parquet").write_bytes(b"PAR1 truncated")
    assert main([str(tmp_path / "res"), "--output-dir", str(tmp_path / "o")]) == 1
    assert "chunk-0_4.parquet" in capsys.readouterr().err


def test_search_and_learn_layout_gives_the_same_metrics(toy_results, tmp_path) -> None:
    """Only search-and-learn's columns, in one run-named file: graded here, same metrics."""
    ours = next(
        r for r in discover_local(toy_results) if r.name.base.endswith("seed-1--agg_strategy-last")
    )
    rows = _rows(ours.files[0].parent)
    keep = [c for c in rows[0] if c in ("problem", "answer", "completions", "scores", "pred",
                                          "completion_tokens", "level") or c.startswith("pred_")]  # fmt: skip
    import pyarrow as pa

    old = tmp_path / "old" / f"{ours.name.base}.parquet"
    old.parent.mkdir()
    pq.write_table(pa.Table.from_pylist([{k: r[k] for k in keep} for r in rows]), old)
    (anchor,) = discover_local(tmp_path / "old")
    assert anchor.approach == "best_of_n" and anchor.name.seed == 1
    from ttscale.grading import Grader

    with Grader(num_workers=1) as grader:
        theirs = run_metrics(anchor, load_run(anchor, grader))
    mine = run_metrics(ours, load_run(ours))
    accuracy = [k for k in mine.overall if "@" in k]
    assert {k: mine.overall[k] for k in accuracy} == {k: theirs.overall[k] for k in accuracy}
    assert theirs.overall["tokens"] == mine.overall["tokens"]  # from completion_tokens
    for level, values in mine.by_level.items():
        assert {k: values[k] for k in accuracy} == {k: theirs.by_level[level][k] for k in accuracy}


def test_anchor_rows_without_grader_fail_clearly(toy_results, tmp_path) -> None:
    run = discover_local(toy_results)[0]
    from ttscale.analysis.load import normalize_rows

    with pytest.raises(ValueError, match=re.escape(run.key)):
        normalize_rows([{"problem": "p", "answer": "1", "completions": ["x"]}], run)


def test_prefix_mode_uses_the_first_n_completions(toy_results) -> None:
    run = next(r for r in discover_local(toy_results) if "interleaved_0.4_0.8" in r.key)
    m = run_metrics(run, load_run(run), mode="prefix")
    rows = _rows(run.files[0].parent)
    for n in (1, 2):
        prefix = list(range(n))
        maj = np.mean([_vote(r["answer_labels"], r["correct"], None, prefix) for r in rows])
        assert m.overall[f"maj@{n}"] == pytest.approx(maj)
        assert m.overall[f"pass@{n}"] == pytest.approx(
            np.mean([any(r["correct"][:n]) for r in rows])
        )


def test_grading_stored_reports_the_rows_own_pred_columns(toy_results, tmp_path, capsys) -> None:
    out = tmp_path / "stored"
    args = [str(toy_results), "--grading", "stored", "--output-dir", str(out), "--filter", "seed-1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Stored predictions (grading: stored)" in printed and "naive@4" in printed
    run = next(r for r in discover_local(toy_results) if "seed-1" in r.key)
    # independently: a row's pred_maj@4 against its answer, graded the same way
    from ttscale.grading import Grader, extract_answer

    rows = _rows(run.files[0].parent)
    with Grader(num_workers=1) as g:
        ok = g.grade([r["answer"] for r in rows], [extract_answer(r["pred_maj@4"]) for r in rows])
    text = (out / "report.md").read_text()
    (row,) = _table(text, "Stored predictions (grading: stored)")
    assert row["maj@4"] == f"{100 * sum(ok) / len(rows):.1f}" and row["problems"] == "4"
    assert "grading: stored" in text


def test_a_confidence_scored_run_reports_deepconfs_filtered_vote(make_cfg, tmp_path) -> None:
    """filtered@N reads the run's own scorer.keep from its identity; checked by hand."""
    from ttscale.run.pipeline import main as run

    cfg = make_cfg("approach=majority", "scorer=deepconf", "scorer.keep=0.5", "n=4",
                   "dataset.num_samples=3")  # fmt: skip
    summary = run(cfg)
    out = tmp_path / "report"
    assert main([str(tmp_path / "results"), "--output-dir", str(out), "--no-plots"]) == 0
    (row,) = _table((out / "report.md").read_text(), "Summary")
    expected = []
    for r in pq.read_table(summary["path"]).to_pylist():
        scores = r["agg_scores"]
        top = sorted(range(4), key=lambda i: (-scores[i], i))[:2]  # keep 50%: the best two
        expected.append(_vote(r["answer_labels"], r["correct"], scores, top))
    assert row["filtered@N"] == f"{100 * np.mean(expected):.1f}"
    (run_found,) = discover_local(tmp_path / "results")
    assert run_found.keep == 0.5
