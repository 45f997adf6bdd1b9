"""Confidence scorers against direct computations from log-probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ttscale.scorers.confidence import (
    group_means,
    token_confidence,
    token_self_certainty,
    trace_confidence,
)
from ttscale.scorers.logprob import DeepConf, MeanLogprob, SelfCertainty
from ttscale.types import Completion


def _dist(rng, v: int) -> np.ndarray:
    logits = rng.normal(size=v) * 2
    return logits - np.log(np.exp(logits).sum())


def test_token_confidence_is_minus_the_mean_of_the_top_k():
    assert token_confidence([-0.1, -2.0, -3.9]) == pytest.approx(2.0)


@pytest.mark.parametrize("seed", range(5))
def test_self_certainty_over_the_whole_vocabulary_is_kl_from_uniform(seed):
    """Given every log-prob (k = V), the value is the paper's KL(U || p), computed directly."""
    rng = np.random.default_rng(seed)
    logp = _dist(rng, 11)
    kl = float(np.sum((1 / 11) * (np.log(1 / 11) - logp)))
    assert token_self_certainty(sorted(logp, reverse=True)) == pytest.approx(kl, abs=1e-12)
    # Top k only: the same formula on the top k renormalised.
    top = np.sort(logp)[::-1][:4]
    p = np.exp(top) / np.exp(top).sum()
    assert token_self_certainty(top) == pytest.approx(float(np.mean(np.log(0.25) - np.log(p))))
    assert token_self_certainty([-1.0, -1.0, -1.0]) == pytest.approx(0.0, abs=1e-12)  # uniform


@pytest.mark.parametrize("window", [1, 2, 3, 5, 9])
def test_group_means_are_every_window_brute_force(window):
    values = [0.5, 2.0, 1.0, 4.0, 3.0, 0.25, 7.0]
    want = [sum(values[i : i + window]) / window for i in range(len(values) - window + 1)]
    if window > len(values):
        want = [sum(values) / len(values)]
    assert group_means(values, window) == pytest.approx(want)


def test_trace_measures_against_brute_force():
    values = [3.0, 1.0, 2.0, 6.0, 0.5, 4.0, 5.0, 2.5, 1.5, 3.5]
    groups = [sum(values[i : i + 3]) / 3 for i in range(8)]
    kw = {"window": 3, "bottom": 0.25, "tail": 4}
    assert trace_confidence(values, "mean", **kw) == pytest.approx(np.mean(values))
    assert trace_confidence(values, "lowest_group", **kw) == pytest.approx(min(groups))
    low = sorted(groups)[:2]  # ceil(0.25 * 8) = 2 groups
    assert trace_confidence(values, "bottom", **kw) == pytest.approx(np.mean(low))
    assert trace_confidence(values, "tail", **kw) == pytest.approx(np.mean(values[-4:]))
    assert math.isnan(trace_confidence([], "mean", **kw))
    with pytest.raises(ValueError, match="measure must be one of"):
        trace_confidence(values, "median", **kw)


def _completion(rng, n_tokens: int, k: int) -> Completion:
    dists = [np.sort(_dist(rng, 30))[::-1] for _ in range(n_tokens)]
    drawn = [float(d[rng.integers(0, 30)]) for d in dists]
    tops = tuple(tuple(float(x) for x in d[:k]) for d in dists)
    return Completion("x" * n_tokens, n_tokens, "eos", tuple(drawn), tops)


def test_each_unit_scores_the_trace_up_to_its_end():
    """A step search's units: one per step, each over every token so far."""
    rng = np.random.default_rng(0)
    steps = [_completion(rng, n, 5) for n in (4, 7, 3)]
    for scorer, per_token, reduce in [
        (MeanLogprob(), lambda c: list(c.logprobs), lambda v: math.exp(np.mean(v))),
        (SelfCertainty(top_k=5), lambda c: [token_self_certainty(t) for t in c.top_logprobs],
         np.mean),
        (DeepConf(top_k=5, measure="lowest_group", window=4),
         lambda c: [-np.mean(t) for t in c.top_logprobs],
         lambda v: min(np.mean(v[i : i + 4]) for i in range(len(v) - 3))),
    ]:  # fmt: skip
        trace = [scorer.token_values(c) for c in steps]
        units = scorer.units("ignored text", trace)
        out = scorer.score(["q"], [units])
        flat: list[float] = []
        want = []
        for c in steps:
            flat += per_token(c)
            want.append(reduce(flat))
        assert out.scores[0] == pytest.approx(want), scorer.name
        assert out.num_tokens == [0]  # no model read anything


def test_sampling_asks_for_what_each_scorer_reads():
    assert MeanLogprob().sampling() == {"logprobs": True}
    assert SelfCertainty(top_k=7).sampling() == {"logprobs": True, "top_logprobs": 7}
    assert DeepConf(top_k=3).sampling()["top_logprobs"] == 3
    with pytest.raises(ValueError, match="no top log-probabilities"):
        DeepConf().token_values(Completion("a", 1, "eos", (-0.1,)))
