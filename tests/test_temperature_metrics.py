"""Multi-temperature metrics against brute force and hand-computed values."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from ttscale.metrics.temperature import (
    early_exit_summary,
    per_temperature,
    pooled_pass_at_k,
    pooled_vs_single,
)


def row(uid, temps, correct, labels=None, **extra):
    labels = labels if labels is not None else [0 if c else 1 for c in correct]
    return {
        "unique_id": uid,
        "temperatures": temps,
        "correct": correct,
        "answer_labels": labels,
        **extra,
    }


def brute_pooled(counts, k):
    """Average over which temperatures get the extra samples, then over actual sample sets."""
    T = len(counts)
    base, extra = divmod(k, T)
    values = []
    for favoured in itertools.combinations(range(T), extra):
        miss = 1.0
        for t, (n, c) in enumerate(counts):
            m = base + (t in favoured)
            pool = [True] * c + [False] * (n - c)
            sets = list(itertools.combinations(range(n), m))
            miss *= sum(not any(pool[i] for i in s) for s in sets) / len(sets)
        values.append(1.0 - miss)
    return sum(values) / len(values)


@pytest.mark.parametrize("seed", range(40))
def test_pooled_pass_at_k_matches_brute_force(seed):
    rng = random.Random(seed)
    T = rng.randint(1, 4)
    counts = [(n, rng.randint(0, n)) for n in (rng.randint(1, 6) for _ in range(T))]
    k_max = min(n for n, _ in counts) * T
    for k in range(1, k_max + 1):
        if -(-k // T) <= min(n for n, _ in counts):
            assert pooled_pass_at_k(counts, k) == pytest.approx(brute_pooled(counts, k))


def test_pooled_pass_at_k_rejects_k_beyond_the_samples():
    with pytest.raises(ValueError, match="k=7 needs 4 samples per temperature"):
        pooled_pass_at_k([(3, 1), (5, 1)], 7)


def test_per_temperature_pass_avg_and_maj():
    rows = [
        row("p0", [0.2, 0.8, 0.2, 0.8], [True, False, True, True]),
        row("p1", [0.2, 0.8, 0.2, 0.8], [False, False, False, True]),
    ]
    per = per_temperature(rows)
    assert list(per) == [0.2, 0.8]
    assert per[0.2]["avg"] == pytest.approx(0.5)  # (2/2 + 0/2) / 2
    assert per[0.8]["avg"] == pytest.approx(0.5)  # (1/2 + 1/2) / 2
    assert per[0.2]["pass@2"] == pytest.approx(0.5)
    assert per[0.8]["pass@2"] == pytest.approx(1.0)
    assert per[0.8]["pass@1"] == pytest.approx(0.5)
    assert per[0.2]["maj@2"] == pytest.approx(0.5)
    assert per[0.8]["maj@2"] == pytest.approx(0.5)  # 1-1 tie in both problems: 0.5 each
    assert per[0.2]["samples"] == 2


def test_pooling_beats_the_best_single_temperature_when_they_solve_different_problems():
    # T=0.2 solves p0 only, T=1.0 solves p1 only, 4 samples each.
    rows = [
        row("p0", [0.2, 1.0] * 4, [True, False] * 4),
        row("p1", [0.2, 1.0] * 4, [False, True] * 4),
    ]
    table = {d["k"]: d for d in pooled_vs_single(rows)}
    assert list(table) == [1, 2, 4]
    assert table[2]["single"] == {0.2: 0.5, 1.0: 0.5}
    assert table[2]["best_single"] == 0.5 and table[2]["pooled"] == 1.0
    assert table[1]["pooled"] == pytest.approx(0.5)  # one sample: a coin flip of temperature
    assert table[4]["best_temperature"] == 0.2  # a tie: the first


def test_pooled_vs_single_needs_the_same_temperatures_everywhere():
    with pytest.raises(ValueError, match="same temperatures"):
        pooled_vs_single([row("a", [0.2, 0.8], [True, False]), row("b", [0.2, 0.2], [1, 0])])


def counters(**c):
    return json.dumps(c)


def voting_row(uid, correct, vote_index, exit_round, used, full, answers=None):
    n = len(correct)
    return row(
        uid,
        [0.0] * n,
        correct,
        answers=answers or ["7"] * n,
        counters=counters(
            exit_round=exit_round,
            rounds=max(exit_round, 1),
            samples_used=n,
            budget_samples=8,
            tokens_used=used,
            tokens_full_budget=full,
            vote_index=vote_index,
        ),
    )


def test_early_exit_summary_estimated_and_measured():
    rows = [
        voting_row("a", [True, True], 0, 2, 100, 400),
        voting_row("b", [False] * 8, 0, -1, 800, 800),
        voting_row("c", [False] * 8, -1, -1, 600, 600),
    ]
    s = early_exit_summary(rows)
    assert s["accuracy"] == pytest.approx(1 / 3)
    assert s["exit_rate"] == pytest.approx(1 / 3) and s["mean_exit_round"] == 2
    assert s["samples_used"] == pytest.approx(6) and s["budget_samples"] == 8
    assert s["tokens_used"] == pytest.approx(500)
    assert s["tokens_full_budget"] == pytest.approx(600)
    assert s["tokens_saved"] == pytest.approx(1 - 1500 / 1800)
    full = [
        voting_row("a", [True] * 8, 0, -1, 500, 500),
        voting_row("b", [False] * 7 + [True], 7, -1, 800, 800, answers=["7"] * 7 + ["8"]),
        voting_row("c", [False] * 8, -1, -1, 600, 600),
    ]
    m = early_exit_summary(rows, full)
    assert m["full_accuracy"] == pytest.approx(2 / 3)
    assert m["tokens_full_budget"] == pytest.approx(1900 / 3)
    assert m["tokens_saved"] == pytest.approx(1 - 1500 / 1900)
    assert m["agreement"] == pytest.approx(2 / 3)  # b's answer differs (7 vs 8)
    assert not math.isnan(m["accuracy"])


def test_early_exit_summary_needs_every_problem_in_the_full_run():
    rows = [voting_row("a", [True], 0, 1, 1, 8)]
    with pytest.raises(ValueError, match="lack 1 problems"):
        early_exit_summary(rows, [])
