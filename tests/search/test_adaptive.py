"""Adaptive budgets: ESC and Adaptive-Consistency stopping, the compute-optimal allocator."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ttscale.search.adaptive import (
    AdaptiveMajority,
    ComputeOptimal,
    allocate,
    beta_confidence,
    esc_stop,
    regularized_beta,
)
from ttscale.search.base import Context
from ttscale.types import Completion, Problem


def test_esc_stops_on_a_unanimous_window_only():
    assert esc_stop(["7", "7", "7", "7"])
    assert not esc_stop(["7", "7", "9", "7"])
    assert not esc_stop([None, None, None, None])  # no answer is not agreement
    assert not esc_stop([])


@pytest.mark.parametrize(("a", "b"), [(1, 1), (3, 1), (5, 2), (8, 3), (2, 6)])
def test_regularized_beta_against_numerical_integration(a, b):
    x = np.linspace(0, 0.5, 200_001)
    dens = x ** (a - 1) * (1 - x) ** (b - 1)
    full = np.linspace(0, 1, 400_001)
    norm = np.trapezoid(full ** (a - 1) * (1 - full) ** (b - 1), full)
    assert regularized_beta(0.5, a, b) == pytest.approx(np.trapezoid(dens, x) / norm, abs=1e-6)


def test_beta_confidence_reads_the_top_two_counts():
    # 4 votes for 7, 1 for 9, one unanswered: P(p1 > p2) under Beta(5, 2)
    keys = ["7", "9", "7", None, "7", "7"]
    assert beta_confidence(keys) == pytest.approx(1 - regularized_beta(0.5, 5, 2))
    assert beta_confidence(["7"] * 4) == pytest.approx(1 - 0.5**5)  # Beta(5, 1)
    assert beta_confidence([None, None]) == pytest.approx(0.5)


class Stream:
    """Answer j of a problem (in draw order) is ``script[uid][j]``; a token per character."""

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script, self.drawn = script, {k: 0 for k in script}
        self.calls = 0

    def generate(self, prompts, params):
        self.calls += 1
        out = []
        for uid, p in zip(prompts, params):
            comps = []
            for _ in range(p.n):
                a = self.script[uid][self.drawn[uid]]
                self.drawn[uid] += 1
                text = f"The answer is \\boxed{{{a}}}"
                comps.append(Completion(text, len(text), "eos", prompt_tokens=2))
            out.append(comps)
        return out


def _ctx(gen, n):
    return Context(generator=gen, scorer=None, prompt=lambda p: p.unique_id, n=n,
                   temperatures=lambda k: [0.8] * k, top_p=1.0, max_tokens=64, seed=0,
                   agg_strategy="last")  # fmt: skip


def _problems(keys):
    return [Problem(i, uid, uid, "7") for i, uid in enumerate(keys)]


def test_adaptive_majority_esc_and_beta_stop_where_the_rules_say():
    script = {
        "easy": ["7"] * 16,
        "late": ["7", "9", "7", "1"] + ["7"] * 12,  # window 1 mixed, window 2 unanimous
        "hard": ["1", "2", "3", "4"] * 4,  # never settles: the whole budget
    }
    gen = Stream(script)
    o = AdaptiveMajority.Options(name="adaptive_majority", rule="esc", window=4, min_samples=4)
    easy, late, hard = AdaptiveMajority(o).search(_problems(script), _ctx(gen, 16))
    assert [len(r.completions) for r in (easy, late, hard)] == [4, 8, 16]
    assert [r.counters["stopped"] for r in (easy, late, hard)] == [1, 1, 0]
    assert easy.counters["rounds"] == 1 and hard.counters["rounds"] == 4
    assert gen.calls == 4  # one generate call per round for every live problem
    assert easy.prompt_tokens == 8 and easy.generated_tokens == sum(easy.completion_tokens)
    # Beta at 0.95: 4 of 4 gives 1 - 0.5**5 = 0.969 >= 0.95, so "easy" stops after 4 too;
    # "late" has 7,9,7,1 -> Beta(3, 2) = 0.69, then 6 of 8 vs 1 -> Beta(7, 2) = 0.98.
    gen = Stream(script)
    o = AdaptiveMajority.Options(name="adaptive_majority", rule="beta", window=4, min_samples=4)
    easy, late, hard = AdaptiveMajority(o).search(_problems(script), _ctx(gen, 16))
    assert [len(r.completions) for r in (easy, late, hard)] == [4, 8, 16]
    # rule=none draws the whole budget with the same draws (its prefix is the stopped run's)
    gen = Stream(script)
    o = AdaptiveMajority.Options(name="adaptive_majority", rule="none")
    full = AdaptiveMajority(o).search(_problems(script), _ctx(gen, 16))
    assert [len(r.completions) for r in full] == [16, 16, 16]
    assert full[1].completions[:8] == late.completions


@pytest.mark.parametrize("seed", range(200))
def test_the_allocator_never_exceeds_the_total(seed):
    rng = random.Random(seed)
    k = rng.randint(1, 30)
    shares = [rng.choice([0.25, 0.5, 0.75, 1.0, rng.random()]) for _ in range(k)]
    probe, cap = rng.randint(1, 6), rng.randint(1, 40)
    total = rng.randint(0, 40 * k)
    out = allocate(shares, probe, total, cap)
    assert len(out) == k
    assert all(min(probe, cap) <= x <= max(cap, min(probe, cap)) for x in out)
    if total >= k * min(probe, cap):
        assert sum(out) <= total
    for x, s in zip(out, shares):
        if s >= 1.0:
            assert x == min(probe, cap)  # a unanimous probe gets nothing more


def test_the_allocator_spends_the_rest_in_proportion_to_disagreement():
    assert allocate([1.0, 0.5, 0.75], probe=4, total=3 * 16, cap=64) == [4, 28, 16]
    assert allocate([0.5, 0.5], probe=4, total=40, cap=10) == [10, 10]  # capped
    assert allocate([1.0, 1.0], probe=4, total=40, cap=64) == [4, 4]  # nothing to settle


def test_compute_optimal_spends_the_shards_budget_where_the_probe_disagrees():
    script = {"easy": ["7"] * 40, "split": ["7", "9"] * 20, "mixed": ["7", "7", "7", "9"] * 10}
    gen = Stream(script)
    o = ComputeOptimal.Options(name="compute_optimal", probe=4, max_samples=40)
    results = ComputeOptimal(o).search(_problems(script), _ctx(gen, 12))
    used = [len(r.completions) for r in results]
    assert sum(used) <= 3 * 12 and used[0] == 4
    assert used == [4] + allocate([0.5, 0.75], 4, 36 - 4, 40)  # the rest split 2:1
    assert gen.calls == 2  # the probe, then the allocation
