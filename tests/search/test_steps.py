"""The shared step machinery: completion detection, batching, lookahead, scoring, accounting."""

from __future__ import annotations

import pytest

from tests.search.doubles import (
    SEP,
    ScriptedGenerator,
    ScriptedPRM,
    context,
    problems,
    split,
    value,
)
from ttscale.search.steps import Request, Tree, expand, is_complete, slot_seed, top, unique


@pytest.mark.parametrize(
    "text,finish,out_of_budget,done",
    [
        ("12+3=15, so 15-4\n\n", "stop", False, False),
        ("12+3=15, so 15-4", "eos", False, True),
        ("12+3=15, so 15-", "length", False, True),
        ("", "stop", False, True),
        ("  \n\n", "stop", False, True),
        ("The answer is \\boxed{11}\n\n", "stop", False, True),
        ("we need \\boxed{ later\n\n", "stop", False, False),
        ("12+3=15\n\n", "stop", True, True),
    ],
)
def test_completion_detection(text, finish, out_of_budget, done):
    assert is_complete(text, finish, out_of_budget) is done


def _one(gen, prm, parent=None, tree=None, **kw):
    ctx = context(gen, prm, **{k: kw.pop(k) for k in ("max_tokens", "agg") if k in kw})
    tree = tree or Tree(problems(1)[0], "p0|")
    (child,) = expand(ctx, [Request(tree, parent, 0.8, 7)], **kw)
    return child, tree


@pytest.mark.parametrize(
    "text,finish,done",
    [
        ("1:5\n\n", "stop", False),
        ("", "eos", True),
        ("\n\n", "stop", True),
        ("1:5", "length", True),
        ("\\boxed{5}\n\n", "stop", True),
    ],
)
def test_expand_marks_children_complete(text, finish, done):
    child, _ = _one(
        ScriptedGenerator(script=lambda *a: (text, finish)), ScriptedPRM(lambda q, s: 0.5)
    )
    assert child.done is done
    assert child.prefix == text and child.tokens >= 1


def test_running_out_of_the_whole_budget_completes_a_child():
    gen = ScriptedGenerator(script=lambda *a: ("0:12\n\n", "stop"))
    child, _ = _one(gen, ScriptedPRM(), max_tokens=6)  # 6 characters = the whole budget
    assert child.done and child.finish == "stop"
    gen2 = ScriptedGenerator(script=lambda *a: ("0:12\n\n", "stop"))
    child2, _ = _one(gen2, ScriptedPRM(), max_tokens=7)
    assert not child2.done


def test_one_generate_and_one_prm_call_for_every_problem_and_budgets():
    gen, prm = ScriptedGenerator(length=5), ScriptedPRM()
    ctx = context(gen, prm, max_tokens=100)
    trees = [Tree(p, f"{p.unique_id}|") for p in problems(3)]
    first = expand(
        ctx,
        [Request(t, None, 0.8, slot_seed(ctx, t, j, 0)) for t in trees for j in range(2)],
        step_tokens=30,
    )
    assert len(gen.calls) == 1 and len(gen.calls[0]) == 6 and prm.calls == [6]
    assert all(p.stop == (SEP,) and p.max_tokens == 30 for _, p in gen.calls[0])
    used = first[0].path_tokens
    expand(ctx, [Request(trees[0], first[0], 0.5, 1)], step_tokens=30, final=True)
    ((_, params),) = gen.calls[1]
    assert params.stop == () and params.max_tokens == 100 - used  # the rest, not step_tokens
    assert params.temperature == 0.5 and params.seed == 1
    assert [t.generate_calls for t in trees] == [2, 1, 1]
    assert [t.prm_calls for t in trees] == [2, 1, 1]
    assert [t.counters["steps"] for t in trees] == [2, 1, 1]


def test_seeds_depend_on_problem_slot_and_iteration_only():
    ctx = context(None, None)
    a, b = (Tree(p, "") for p in problems(2))
    seeds = {slot_seed(ctx, t, j, it) for t in (a, b) for j in range(3) for it in range(3)}
    assert len(seeds) == 18
    assert slot_seed(ctx, a, 1, 2) == slot_seed(context(None, None), Tree(problems(1)[0], ""), 1, 2)


def test_lookahead_is_greedy_scored_and_counted_but_not_kept():
    gen, prm = ScriptedGenerator(length=6), ScriptedPRM()
    child, tree = _one(gen, prm, lookahead=2, agg="min")
    assert len(gen.calls) == 3  # the step, then one batched call per lookahead step
    assert all(p.temperature == 0 for call in gen.calls[1:] for _, p in call)
    look_texts = [split(prompt)[1] for call in gen.calls[1:] for prompt, _ in call]
    assert look_texts[0] == child.prefix  # lookahead continues the child's own prefix
    assert child.prefix.count(SEP) == 1 and len(child.step_scores) == 1
    # The score saw three steps: the child and two greedy ones (all seed 0: value 0).
    assert child.score == 0.0 and child.step_scores == [value(child.text) / 100]
    assert child.lookahead_tokens > 0
    assert tree.generated_tokens == child.tokens + child.lookahead_tokens == gen.tokens["p0"]
    assert tree.generate_calls == 3 and tree.prm_calls == 1


def test_lookahead_stops_at_a_finished_step_and_skips_finished_children():
    gen = ScriptedGenerator(length=2)
    child, _ = _one(gen, ScriptedPRM(), lookahead=3)
    assert len(gen.calls) == 2  # the second step is the answer: nothing more to look at
    gen = ScriptedGenerator(script=lambda *a: ("\\boxed{3}", "eos"))
    _one(gen, ScriptedPRM(), lookahead=3)
    assert len(gen.calls) == 1


@pytest.mark.parametrize("agg,expected", [("last", 0.9), ("min", 0.2), ("mean", 0.55)])
def test_prm_scores_are_aggregated_with_the_configured_strategy(agg, expected):
    gen = ScriptedGenerator(
        script=lambda uid, prefix, p: ("1:90\n\n", "stop") if prefix else ("0:20\n\n", "stop")
    )
    parent, tree = _one(gen, ScriptedPRM(), agg=agg)
    child, _ = _one(gen, ScriptedPRM(), parent=parent, tree=tree, agg=agg)
    assert child.step_scores == [0.2, 0.9] and child.step_score == 0.9
    assert child.score == pytest.approx(expected)


def test_empty_step_has_no_step_score_and_an_empty_solution_skips_the_prm():
    prm = ScriptedPRM()
    child, _ = _one(ScriptedGenerator(script=lambda *a: ("", "eos")), prm)
    assert prm.calls == [] and child.step_score is None and child.score == 0.0


def test_top_and_unique():
    gen = ScriptedGenerator(script=lambda uid, prefix, p: (f"0:{p.seed}{SEP}", "stop"))
    ctx = context(gen, ScriptedPRM())
    tree = Tree(problems(1)[0], "p0|")
    kids = expand(ctx, [Request(tree, None, 0.8, s) for s in (30, 70, 30, 50)])
    assert [k.id for k in top(kids, 3)] == [1, 3, 0]  # ties go to the earlier node
    assert [k.id for k in unique(kids)] == [0, 1, 3]


def test_token_accounting_equals_the_sum_over_the_tree():
    gen, prm = ScriptedGenerator(length=4), ScriptedPRM()
    ctx = context(gen, prm)
    tree = Tree(problems(1)[0], "p0|")
    kids = expand(ctx, [Request(tree, None, 0.8, j) for j in range(3)], lookahead=1)
    expand(ctx, [Request(tree, k, 0.8, 9) for k in kids], lookahead=1)
    result = tree.result([tree.nodes[-1]])
    nodes = result.tree
    assert result.generated_tokens == sum(x["tokens"] + x["lookahead_tokens"] for x in nodes)
    assert result.generated_tokens == gen.tokens["p0"]
    assert result.prm_tokens == prm.tokens["question 0"]
    leaf = tree.nodes[-1]
    assert result.completion_tokens == [leaf.tokens + leaf.parent.tokens]
    assert [x["kept"] for x in nodes] == [x.id in (leaf.id, leaf.parent.id) for x in tree.nodes]
