"""Collective and independent backtracking on a scripted generator and PRM."""

from __future__ import annotations

import pytest

from tests.search.doubles import (
    SEP,
    ScriptedGenerator,
    ScriptedPRM,
    context,
    problems,
    prompts_of,
)
from ttscale.search.backtrack import CollectiveBacktrack, IndependentBacktrack


def collective(gen, prm, n=4, k=1, **options):
    approach = CollectiveBacktrack(CollectiveBacktrack.Options(**options))
    return approach.search(problems(k), context(gen, prm, n=n))


def independent(gen, prm, n=1, k=1, **options):
    approach = IndependentBacktrack(IndependentBacktrack.Options(**options))
    return approach.search(problems(k), context(gen, prm, n=n))


def by_depth(scores: dict[int, float]):
    """A PRM rule: the score of a step depends only on its depth (0 = first step)."""
    return ScriptedPRM(lambda q, steps: scores.get(len(steps) - 1, 0.9))


def temps(call) -> list[float]:
    return [round(p.temperature, 6) for _, p in call]


def parents(result, ids) -> set:
    return {result.tree[i]["parent"] for i in ids}


def test_collective_backs_up_with_fewer_parents_then_jumps():
    gen = ScriptedGenerator(length=10)
    (r,) = collective(gen, by_depth({1: 0.1}), max_steps=7)
    # 1 child: too few pass -> retry: 9 children of the prompt -> keep 3; depth 1 fails for
    # all: retries with 3, 2, 1 parents (9 // parents children each), then a jump.
    assert [len(c) for c in gen.calls] == [1, 9, 3, 9, 8, 9, 1]
    assert temps(gen.calls[1]) == [0.9] * 9
    assert [temps(c)[0] for c in gen.calls[2:]] == [0.8, 0.9, 1.0, 1.1, 0.8]
    sizes = [len(c) for c in gen.calls]
    start = [sum(sizes[:i]) for i in range(len(sizes))]
    ids = [range(s, s + k) for s, k in zip(start, sizes)]
    assert len(parents(r, ids[3])) == 3 and len(parents(r, ids[4])) == 2
    assert len(parents(r, ids[5])) == 1 and parents(r, ids[6]) == parents(r, ids[5])
    assert r.counters == {"steps": 7, "backtracks": 2, "retries": 4, "jumps": 1}
    # The jump accepted a failing step; it was the last step, so it finished the solution.
    assert len(r.completions) == 1
    assert r.tree[-1]["score"] == 0.1 and r.completions[0].endswith(r.tree[-1]["text"])


def test_collective_protects_passers_while_backing_up():
    patterns = {2: "PPF", 3: "PFFFFFFFF"}  # per generate call: which depth-1 children pass
    seen: dict[int, int] = {}
    gen = ScriptedGenerator(length=10)

    def script(uid, prefix, p):
        call = len(gen.calls) - 1
        if call not in patterns:
            return None
        k = seen[call] = seen.get(call, -1) + 1
        return f"1:{k}{patterns[call][k]}{SEP}", "stop"

    gen.script = script
    prm = ScriptedPRM(lambda q, steps: 0.1 if steps[-1].endswith("F") else 0.9)
    (r,) = collective(gen, prm, max_steps=5)
    # Call 2: two of three pass (< 3): protect them and retry. Call 3: one more passes, and
    # with the two protected that makes 3: go on with those three.
    assert [len(c) for c in gen.calls] == [1, 9, 3, 9, 3]
    continued = sorted(x.split(SEP)[1] for x in prompts_of(gen.calls[4], "p0"))
    assert continued == ["1:0P", "1:0P", "1:1P"]
    assert r.counters["backtracks"] == 2 and r.counters["retries"] == 2


def test_collective_stops_after_collecting_num_finished_best_first():
    gen = ScriptedGenerator(length=3)
    prm = ScriptedPRM(lambda q, steps: 0.9 - 0.01 * len(steps[-1]))
    (r,) = collective(gen, prm, num_finished=2)
    assert [len(c) for c in gen.calls] == [1, 9, 3, 3]
    assert len(r.completions) == 2 and all(c.endswith("}") for c in r.completions)
    scores = [s[-1] for s in r.scores]
    assert scores == sorted(scores, reverse=True)


def test_collective_with_nothing_passing_answers_with_its_best_complete_branches():
    gen = ScriptedGenerator(length=10)
    (r,) = collective(gen, by_depth({0: 0.1}), n=4, max_steps=2)
    assert all(p.stop == () for _, p in gen.calls[-1])  # the last step has no stop string
    assert len(r.completions) == 4 and all(c.endswith("}") for c in r.completions)


def test_independent_threshold_decays_with_retries():
    gen = ScriptedGenerator(length=4)
    (r,) = independent(gen, by_depth({1: 0.52}))  # tau 0.6: passes at retry 2 (0.50)
    assert [temps(c) for c in gen.calls[1:4]] == [[0.8], [0.9, 0.9], [1.0, 1.0]]
    depth1 = [x for x in r.tree if x["text"].startswith("1:")]
    assert [x["kept"] for x in depth1] == [False, False, False, True, True]
    assert r.counters == {"steps": 6, "retries": 3, "backtracks": 2}
    assert len(r.completions) == 1 and r.completions[0].count(SEP) == 3

    gen = ScriptedGenerator(length=4)
    (flat,) = independent(gen, by_depth({1: 0.52}), tau_decay=0.0, max_steps=8)
    depth1 = [x for x in flat.tree if x["text"].startswith("1:")]
    assert depth1 and not any(x["kept"] for x in depth1)  # without decay it never passes


def test_independent_rejects_after_max_backtracks_and_rescues_the_best_parent():
    gen = ScriptedGenerator(length=4)
    (r,) = independent(gen, by_depth({1: 0.1}), max_backtracks=1, max_steps=5)
    # Step 1 fails -> 2 clones (retry 1) -> both fail and are rejected -> rescue one parent.
    assert [len(c) for c in gen.calls] == [1, 1, 2, 1, 1]
    assert r.counters["retries"] == 3
    assert temps(gen.calls[3]) == [1.0]  # the rescued branch carries retries + 1


@pytest.mark.parametrize("cap,expected", [(None, 2), (3, 3)])
def test_independent_prunes_to_max_total_branches(cap, expected):
    gen = ScriptedGenerator(length=10)
    independent(gen, by_depth({1: 0.1}), max_total_branches=cap, max_steps=4)
    assert len(gen.calls[-1]) == expected
