"""DVTS logic on a scripted generator and PRM."""

from __future__ import annotations

from tests.search.doubles import SEP, ScriptedGenerator, ScriptedPRM, context, problems, value
from ttscale.search.dvts import DVTS


def run(n=8, m=2, k=1, gen=None, prm=None, temperatures=None, **options):
    gen = gen or ScriptedGenerator(length=4)
    prm = prm or ScriptedPRM()
    approach = DVTS(DVTS.Options(beam_width=m, **options))
    results = approach.search(problems(k), context(gen, prm, n=n, temperatures=temperatures))
    return results, gen, prm


def _root(nodes: dict, x: dict) -> dict:
    while x["parent"] is not None:
        x = nodes[x["parent"]]
    return x


def test_each_subtree_follows_its_best_candidate_and_keeps_its_last_siblings():
    results, gen, prm = run(n=8, m=2, k=2)
    assert [len(c) for c in gen.calls] == [16] * 4 and prm.calls == [16] * 4
    for r in results:
        nodes = {x["id"]: x for x in r.tree}
        assert len(r.completions) == 8 and all(c.endswith("}") for c in r.completions)
        for it in range(3):  # iteration it: ids 8*it .. 8*it+7, subtree s owns two of them
            for s in range(4):
                a, b = nodes[8 * it + 2 * s], nodes[8 * it + 2 * s + 1]
                best = a if (value(a["text"]), -a["id"]) >= (value(b["text"]), -b["id"]) else b
                children = [x for x in r.tree if x["parent"] == best["id"]]
                assert len(children) == 2  # only the best candidate is continued
                assert not [
                    x for x in r.tree if x["parent"] == ({a["id"], b["id"]} - {best["id"]}).pop()
                ]


def test_subtrees_stay_independent():
    results, *_ = run(n=8, m=2)
    nodes = {x["id"]: x for x in results[0].tree}
    # Every node descends from a first step of its own subtree (slots 2s, 2s+1).
    for x in results[0].tree:
        assert _root(nodes, x)["id"] // 2 == (x["id"] % 8) // 2
    # Changing the scores inside subtree 0 changes nothing in the other subtrees.
    slots0 = {0, 1}
    gen = ScriptedGenerator(length=4)

    def rule(q, steps):
        v = value(steps[-1])
        first = steps[0]
        in_zero = any(first == x["text"].strip() for x in results[0].tree if x["id"] in slots0)
        return (100 - v) / 100 if in_zero else v / 100

    other, *_ = run(n=8, m=2, gen=gen, prm=ScriptedPRM(rule))
    assert other[0].completions[2:] == results[0].completions[2:]
    assert other[0].completions[:2] != results[0].completions[:2]


def test_a_subtree_dies_when_its_best_step_finishes():
    def script(uid, prefix, p):
        v = p.seed % 100
        if not p.stop or prefix.count(SEP) >= 5:
            return f"\\boxed{{{v}}}", "eos"
        # Subtree 0 (slots 0, 1) answers at once; the others keep stepping.
        if p.temperature == 0.1:
            return f"\\boxed{{{v}}}", "eos"
        return f"0:{v}{SEP}", "stop"

    temps = [0.1, 0.1, 0.8, 0.8]
    results, gen, _ = run(
        n=4, m=2, gen=ScriptedGenerator(script=script), temperatures=lambda n: temps[:n]
    )
    assert [len(c) for c in gen.calls] == [4, 2, 2, 2, 2, 2]
    assert results[0].completions[0].startswith("\\boxed")
    assert results[0].completions[2].count(SEP) == 5


def test_children_use_the_schedules_slot_temperatures():
    temps = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    results, gen, _ = run(n=6, m=3, temperatures=lambda n: temps[:n])
    assert all([p.temperature for _, p in call] == temps for call in gen.calls)
    assert results[0].temperatures == temps


def test_token_accounting_equals_the_sum_over_the_tree():
    results, gen, prm = run(n=8, m=4, k=2, lookahead=2)
    for i, r in enumerate(results):
        assert r.generated_tokens == sum(x["tokens"] + x["lookahead_tokens"] for x in r.tree)
        assert r.generated_tokens == gen.tokens[f"p{i}"]
        assert r.prm_tokens == prm.tokens[f"question {i}"]
        assert r.completion_tokens == [len(c) + 1 for c in r.completions]  # chars + EOS
