"""Whole-solution sampling: best-of-N (PRM-selected) and majority voting (no PRM).

Both draw n complete solutions per problem in one generate call, grouped by problem so a
prefix cache is reused. Slot j uses the schedule's temperature j; each (problem,
temperature) pair is one request with its own seed, so results do not depend on sharding.
"""

from __future__ import annotations

from ttscale.prompts import split_steps
from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context, Options
from ttscale.types import SamplingParams, SearchResult, derive_seed


def sample_solutions(problems, ctx: Context, *, score: bool) -> list[SearchResult]:
    """n full solutions per problem, scored by the PRM when ``score`` is set."""
    temps = ctx.temperatures(ctx.n)
    distinct = sorted(set(temps))
    prompts, params = [], []
    for p in problems:
        text = ctx.prompt(p)
        for t in distinct:
            prompts.append(text)
            params.append(SamplingParams(
                n=temps.count(t), temperature=t, top_p=ctx.top_p, max_tokens=ctx.max_tokens,
                seed=derive_seed(ctx.seed, p.unique_id, t)))
    outputs = ctx.generator.generate(prompts, params)
    results = []
    for i, p in enumerate(problems):
        pools = {t: list(outputs[i * len(distinct) + k]) for k, t in enumerate(distinct)}
        comps = [pools[t].pop(0) for t in temps]  # restore the schedule's slot order
        results.append(SearchResult(
            completions=[c.text for c in comps],
            scores=[[] for _ in comps],
            temperatures=temps,
            completion_tokens=[c.num_tokens for c in comps],
            generated_tokens=sum(c.num_tokens for c in comps),
            generate_calls=1,
            tree=[{"id": j, "parent": None, "text": c.text, "score": None,
                   "temperature": t, "kept": True} for j, (c, t) in enumerate(zip(comps, temps))],
        ))
    if score and ctx.prm is not None:
        score_results(problems, results, ctx)
    return results


def score_results(problems, results: list[SearchResult], ctx: Context) -> None:
    """Score every completion's steps with one PRM call for the whole shard."""
    questions, steps, owner = [], [], []
    for p, r in zip(problems, results):
        for j, text in enumerate(r.completions):
            questions.append(p.problem)
            steps.append(split_steps(text))
            owner.append((r, j))
    out = ctx.prm.score(questions, steps)
    for (r, j), s, tok in zip(owner, out.scores, out.num_tokens):
        r.scores[j] = s
        r.prm_tokens += tok
        r.tree[j]["score"] = s[-1] if s else None
    for r in results:
        r.prm_calls = 1


@APPROACHES.register("best_of_n")
class BestOfN(Approach):
    """Sample n solutions, score them with the PRM; pred is the best aggregated score."""

    class Options(Options):
        pass

    def search(self, problems, ctx):
        if ctx.prm is None:
            raise ValueError("approach=best_of_n needs a PRM; use prm=toy/oracle or approach=majority")
        return sample_solutions(problems, ctx, score=True)


@APPROACHES.register("majority")
class Majority(Approach):
    """Self-consistency: n solutions, the most frequent answer wins. No PRM is needed."""

    class Options(Options):
        needs_prm: bool = False

    def search(self, problems, ctx):
        return sample_solutions(problems, ctx, score=False)
