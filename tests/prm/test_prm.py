"""PRM scoring: one score per step, batching invariance, the oracle, aggregation."""

from __future__ import annotations

import math

import pytest

from ttscale.prm.aggregate import aggregate
from ttscale.prm.likelihood import LikelihoodPRM
from ttscale.prm.math_shepherd import format_input
from ttscale.prm.oracle import OraclePRM

Q = "Compute 1+2*3."
GOOD = ["2*3=6, so 1+6", "1+6=7", "The answer is \\boxed{7}"]
BAD = ["2*3=5, so 1+5", "1+5=6", "The answer is \\boxed{6}"]


def test_format_matches_math_shepherd():
    assert format_input("Q?", ["a", "b"]) == "Q? a ки\n\nb ки"
    assert format_input("Q?", ["a ки b"]) == "Q? a  b ки"  # a stray tag cannot add a step


@pytest.fixture(scope="module")
def toy_prm(prm_path):
    return LikelihoodPRM(prm_path, batch_size=2)


def test_one_score_per_step_in_unit_interval(toy_prm):
    items = [GOOD, BAD, GOOD[:1], ["just one step without anything"]]
    out = toy_prm.score([Q] * 4, items)
    assert [len(s) for s in out.scores] == [3, 3, 1, 1]
    assert all(0.0 <= x <= 1.0 for s in out.scores for x in s)
    assert out.num_tokens == [len(toy_prm.encode(Q, s).ids) for s in items]


def test_batch_size_does_not_change_scores(prm_path, toy_prm):
    items = [GOOD, BAD, GOOD[:2], BAD[:1], GOOD]
    big = LikelihoodPRM(prm_path, batch_size=64).score([Q] * 5, items).scores
    small = toy_prm.score([Q] * 5, items).scores
    for a, b in zip(big, small):
        assert a == pytest.approx(b, abs=1e-4)


def test_toy_prm_prefers_correct_steps(toy_prm, prm_path):
    """Over its 400 held-out policy samples (written by learn.py), correct steps score above
    the first wrong step of each sample: step AUC 0.971 when trained; and the slip ``2*3=5``
    scores below ``2*3=6``."""
    from pathlib import Path

    from ttscale.learn.labels import read_jsonl
    from ttscale.learn.prm_eval import score_cases
    from ttscale.metrics.prm import step_auc

    cases = read_jsonl(Path(prm_path) / "processbench.jsonl")
    assert len(cases) == 400
    assert step_auc([c["label"] for c in cases], score_cases(toy_prm, cases)) > 0.9
    good, bad = toy_prm.score([Q, Q], [GOOD, BAD]).scores
    assert all(g > b for g, b in zip(good, bad))


def test_missing_step_token_is_a_clear_error(prm_path):
    with pytest.raises(ValueError, match=r"prm.step_tag='<step>' is not a single token"):
        LikelihoodPRM(prm_path, step_tag="<step>")


def test_oracle_scores_exactly_and_noise_is_seeded():
    exact = OraclePRM().score([Q, Q], [GOOD, BAD])
    assert exact.scores == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    noisy = OraclePRM(noise=0.3, seed=1)
    a = noisy.score([Q], [GOOD]).scores
    assert a == noisy.score([Q], [GOOD]).scores  # same prefix, same score
    assert a != exact.scores[:1]
    assert all(0 <= x <= 1 for x in a[0])


@pytest.mark.parametrize(
    "strategy,expected", [("last", 0.5), ("min", 0.2), ("prod", 0.08), ("mean", 1.5 / 3)]
)
def test_aggregate(strategy, expected):
    assert aggregate([0.8, 0.2, 0.5], strategy) == pytest.approx(expected)


def test_aggregate_edge_cases():
    assert math.isnan(aggregate([], "last"))
    with pytest.raises(ValueError, match="agg_strategy"):
        aggregate([0.1], "median")
