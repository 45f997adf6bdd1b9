"""evaluate(): rows that the anchors' tools accept, defined scores, metrics at every n."""

from __future__ import annotations

import math

import pytest

from ttscale.grading import Grader
from ttscale.run.evaluate import evaluate
from ttscale.run.report import results_table
from ttscale.types import Problem, SearchResult


@pytest.fixture(scope="module")
def grader():
    with Grader(num_workers=1, timeout=10) as g:
        yield g


def _result(texts: list[str], scores: list[list[float]], prm: bool) -> SearchResult:
    return SearchResult(
        completions=texts,
        scores=scores,
        temperatures=[0.8] * len(texts),
        completion_tokens=[len(t) for t in texts],
        generated_tokens=sum(map(len, texts)),
        prm_calls=int(prm),
    )


def _problem(i: int, **extra) -> Problem:
    return Problem(i, f"p{i}", f"question {i}", "7", 1, extra)


def test_an_empty_completion_scored_by_a_prm_gets_a_defined_score(grader) -> None:
    r = _result([r"so \boxed{7}", ""], [[0.9, 0.8], []], prm=True)
    rows, metrics, _ = evaluate([_problem(0)], [r], agg_strategy="last", seed=0, grader=grader)
    assert rows[0]["scores"] == [[0.9, 0.8], [0.0]]
    assert rows[0]["agg_scores"] == [0.8, 0.0]
    assert metrics["naive@2"] == 1.0


def test_rows_without_a_prm_have_scores_that_search_and_learn_can_read(grader) -> None:
    # sal's score() takes scores[i][-1] of every completion: an empty list raises IndexError.
    r = _result([r"\boxed{7}", r"\boxed{3}", r"\boxed{7}"], [[], [], []], prm=False)
    rows, metrics, _ = evaluate([_problem(0)], [r], agg_strategy="last", seed=0, grader=grader)
    row = rows[0]
    assert all(s and s[-1] == 1.0 for s in row["scores"])
    assert all(math.isnan(a) for a in row["agg_scores"])  # no PRM ran: no PRM metrics
    assert "naive@3" not in metrics and metrics["maj@3"] == 1.0


def test_rows_carry_every_source_column(grader) -> None:
    p = _problem(0, solution="3 + 4 = 7", subject="Algebra", pred="clash")
    r = _result([r"\boxed{7}"], [[0.5]], prm=True)
    (row,), _, _ = evaluate([p], [r], agg_strategy="last", seed=0, grader=grader)
    assert (row["solution"], row["subject"], row["level"]) == ("3 + 4 = 7", "Algebra", 1)
    assert row["source_pred"] == "clash" and row["pred"] == r"\boxed{7}"


def test_varying_completion_counts_report_every_n_with_its_problem_count(grader) -> None:
    from ttscale.metrics import coverage

    problems = [_problem(0), _problem(1)]
    results = [
        _result([r"\boxed{7}"] * 4, [[0.5]] * 4, prm=True),
        _result([r"\boxed{7}", r"\boxed{1}"], [[0.5], [0.4]], prm=True),
    ]
    rows, metrics, per = evaluate(problems, results, agg_strategy="last", seed=0, grader=grader)
    assert metrics["maj@4"] == 1.0  # on the one problem with 4 completions
    assert metrics["maj@2"] == 0.75  # both problems; the second ties 7 against 1
    counts = coverage(per)
    assert counts["maj@4"] == 1 and "maj@2" not in counts
    table = results_table(metrics, num_problems=2, counts=counts)
    (row4,) = [line for line in table.splitlines() if line.lstrip().startswith("4 ")]
    assert "(on 1 of 2 problems)" in row4
    assert "samples/problem: 3.0 (adaptive" in table  # N differs by problem
