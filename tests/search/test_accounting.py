"""Every step-level approach: compute accounting, shard independence, output shape."""

from __future__ import annotations

import pytest

from tests.search.doubles import ScriptedGenerator, ScriptedPRM, context, problems, value
from ttscale.search import APPROACHES

STEP_APPROACHES = {
    "beam_search": {"beam_width": 2, "lookahead": 1},
    "dvts": {"beam_width": 2, "lookahead": 1},
    "collective_backtrack": {},
    "independent_backtrack": {},
}


def search(name: str, k: int, first: int = 0):
    cls = APPROACHES.get(name)
    gen = ScriptedGenerator(length=4)
    # Steps with a small value fail tau, so backtracking really backs up.
    prm = ScriptedPRM(lambda q, steps: 0.3 + value(steps[-1]) / 100)
    results = cls(cls.Options(**STEP_APPROACHES[name])).search(
        problems(first + k)[first:], context(gen, prm, n=4)
    )
    return results, gen, prm


@pytest.mark.parametrize("name", STEP_APPROACHES)
def test_token_accounting_equals_the_sum_over_the_tree(name):
    results, gen, prm = search(name, k=3)
    for i, r in enumerate(results):
        nodes = {x["id"]: x for x in r.tree}
        assert r.generated_tokens == sum(x["tokens"] + x["lookahead_tokens"] for x in r.tree)
        assert r.generated_tokens == gen.tokens[f"p{i}"] > 0
        assert r.prm_tokens == prm.tokens[f"question {i}"] > 0
        assert r.generate_calls == sum(any(p.startswith(f"p{i}|") for p, _ in c) for c in gen.calls)
        assert 1 <= r.prm_calls <= len(prm.calls)
        assert r.counters["steps"] >= 1
        assert len(r.completions) == len(r.scores) == len(r.temperatures)
        for text, tokens in zip(r.completions, r.completion_tokens):
            leaf = max(
                (x for x in r.tree if text.endswith(x["text"]) and x["text"]),
                key=lambda x: x["kept"],
            )
            path, node = 0, leaf
            while node is not None:
                path += node["tokens"]
                node = nodes.get(node["parent"])
            assert tokens == path
        assert all(
            x["kept"]
            for x in r.tree
            if any(c.endswith(x["text"]) and x["done"] for c in r.completions[:1])
        )


@pytest.mark.parametrize("name", STEP_APPROACHES)
def test_one_generate_call_per_step_for_the_whole_shard(name):
    results, gen, prm = search(name, k=3)
    lookahead = STEP_APPROACHES[name].get("lookahead", 0)
    steps = max(r.counters["steps"] for r in results)
    assert len(prm.calls) == steps
    assert steps <= len(gen.calls) <= steps * (1 + lookahead)


@pytest.mark.parametrize("name", STEP_APPROACHES)
def test_results_do_not_depend_on_the_other_problems_of_the_shard(name):
    together, *_ = search(name, k=3)
    alone, *_ = search(name, k=1, first=1)
    for field in (
        "completions",
        "scores",
        "completion_tokens",
        "generated_tokens",
        "tree",
        "counters",
    ):
        assert getattr(alone[0], field) == getattr(together[1], field), field


@pytest.mark.parametrize("name", STEP_APPROACHES)
def test_searching_without_a_scorer_fails_clearly(name):
    cls = APPROACHES.get(name)
    with pytest.raises(ValueError, match=f"approach={name} needs a scorer"):
        cls(cls.Options()).search(problems(1), context(ScriptedGenerator(), None))
