"""Beam search logic on a scripted generator and PRM."""

from __future__ import annotations

from collections import Counter

from tests.search.doubles import (
    SEP,
    ScriptedGenerator,
    ScriptedPRM,
    context,
    problems,
    prompts_of,
    value,
)
from ttscale.search.beam_search import BeamSearch


def run(n=8, m=2, k=2, length=4, gen=None, prm=None, **options):
    gen = gen or ScriptedGenerator(length=length)
    prm = prm or ScriptedPRM()
    approach = BeamSearch(BeamSearch.Options(beam_width=m, **options))
    results = approach.search(problems(k), context(gen, prm, n=n))
    return results, gen, prm


def test_n_beams_per_problem_every_iteration_in_one_call_each():
    results, gen, prm = run(n=8, m=2, k=3, length=4)
    # Steps 0-2 are open steps, step 3 answers: 4 iterations, each one generate + one PRM call.
    assert [len(call) for call in gen.calls] == [24, 24, 24, 24]
    assert prm.calls == [24, 24, 24, 24]
    for r in results:
        assert len(r.completions) == 8
        assert (r.generate_calls, r.prm_calls, r.counters["steps"]) == (4, 4, 4)


def test_pruning_keeps_exactly_the_top_n_over_beam_width_and_refills_to_n():
    results, gen, _ = run(n=8, m=2, k=1, length=4)
    nodes = results[0].tree
    for it in range(3):
        kids = [x for x in nodes if x["id"] in range(8 * it, 8 * it + 8)]
        ranked = sorted(kids, key=lambda x: (-value(x["text"]), x["id"]))
        kept = [x["id"] for x in kids if x["kept"]]
        assert sorted(kept) == sorted(x["id"] for x in ranked[:4])
        # The next iteration continues exactly the kept prefixes, each twice.
        nxt = Counter(prompts_of(gen.calls[it + 1], "p0"))
        by_id = {x["id"]: x for x in nodes}
        prefixes = []
        for i in kept:
            text, node = "", by_id[i]
            while node is not None:
                text = node["text"] + text
                node = by_id.get(node["parent"])
            prefixes.append(text)
        assert nxt == Counter({p: 2 for p in prefixes})


def test_beam_slots_use_the_schedules_temperatures():
    gen = ScriptedGenerator(length=3)
    temps = [0.2, 0.4, 0.6, 0.8]
    approach = BeamSearch(BeamSearch.Options(beam_width=2))
    approach.search(problems(1), context(gen, ScriptedPRM(), n=4, temperatures=lambda n: temps[:n]))
    assert all([p.temperature for _, p in call] == temps for call in gen.calls)


def test_last_iteration_has_no_stop_and_finishes_every_beam():
    results, gen, _ = run(n=4, m=2, k=2, length=10, num_iterations=3)
    assert len(gen.calls) == 3
    assert all(p.stop == (SEP,) for _, p in gen.calls[1])
    assert all(p.stop == () for _, p in gen.calls[2])
    for r in results:
        assert len(r.completions) == 4
        assert all(c.endswith("}") for c in r.completions)


def test_first_n_finished_by_default_best_n_with_sort_completed():
    # Beams finish at different depths: a step with an odd value is the answer.
    def script(uid, prefix, p):
        v = p.seed % 100
        return (f"\\boxed{{{v}}}", "eos") if v % 2 else (f"0:{v}{SEP}", "stop")

    first, *_ = run(n=4, m=2, k=1, gen=ScriptedGenerator(script=script), num_iterations=6)
    best, *_ = run(
        n=4, m=2, k=1, gen=ScriptedGenerator(script=script), num_iterations=6, sort_completed=True
    )
    done = [x for x in best[0].tree if x["done"]]
    ranked = sorted(done, key=lambda x: (-x["agg_score"], x["id"]))[:4]
    assert [value(c.split(SEP)[-1]) for c in best[0].completions] == [
        value(x["text"]) for x in ranked
    ]
    in_order = [x for x in first[0].tree if x["done"]][:4]
    assert [value(c.split(SEP)[-1]) for c in first[0].completions] == [
        value(x["text"]) for x in in_order
    ]
    # Without sort_completed the search stops once n beams have finished.
    assert len(first[0].tree) <= len(best[0].tree)


def test_filter_duplicates_keeps_distinct_beams():
    # Half the slots repeat one step; without filtering the repeats fill the kept beams.
    def script(uid, prefix, p):
        if prefix.count(SEP) >= 2:
            return "\\boxed{1}", "eos"
        return (f"0:99{SEP}", "stop") if p.seed % 2 else (f"0:{p.seed % 50}{SEP}", "stop")

    plain, *_ = run(n=8, m=2, k=1, gen=ScriptedGenerator(script=script))
    dedup, *_ = run(n=8, m=2, k=1, gen=ScriptedGenerator(script=script), filter_duplicates=True)

    def kept_first_step(r):
        return [x["text"] for x in r.tree[:8] if x["kept"] and x["parent"] is None]

    assert len(set(kept_first_step(dedup[0]))) == len(kept_first_step(dedup[0]))
    assert len(set(kept_first_step(plain[0]))) < len(kept_first_step(plain[0]))


def test_results_do_not_depend_on_the_shard():
    together, *_ = run(n=4, m=2, k=3)
    gen, prm = ScriptedGenerator(length=4), ScriptedPRM()
    alone = BeamSearch(BeamSearch.Options(beam_width=2)).search(
        problems(3)[2:], context(gen, prm, n=4)
    )
    assert alone[0].completions == together[2].completions
    assert alone[0].generated_tokens == together[2].generated_tokens


def test_token_accounting_equals_the_sum_over_the_tree():
    results, gen, prm = run(n=8, m=4, k=2, length=5, lookahead=1)
    for i, r in enumerate(results):
        nodes = {x["id"]: x for x in r.tree}
        assert r.generated_tokens == sum(x["tokens"] + x["lookahead_tokens"] for x in r.tree)
        assert r.generated_tokens == gen.tokens[f"p{i}"]
        assert r.prm_tokens == prm.tokens[f"question {i}"]
        assert any(x["lookahead_tokens"] for x in r.tree)
        for text, tokens in zip(r.completions, r.completion_tokens):
            leaf = next(x for x in r.tree if x["done"] and text.endswith(x["text"]))
            path, node = 0, leaf
            while node is not None:
                path += node["tokens"]
                node = nodes.get(node["parent"])
            assert tokens == path
