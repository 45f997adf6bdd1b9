"""Whole-solution sampling: best-of-N (PRM-selected) and majority voting (no PRM).

Both draw n complete solutions per problem in one generate call, grouped by problem so a
prefix cache is reused. Slot j uses the schedule's temperature j; each (problem,
temperature) pair is one request with its own seed, so results do not depend on sharding.
"""

from __future__ import annotations

from typing import ClassVar

from ttscale.grading import answer_key
from ttscale.grading.plurality import plurality
from ttscale.prm.aggregate import aggregate
from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context, Options
from ttscale.search.tree import node_record
from ttscale.types import Completion, SamplingParams, SearchResult, derive_seed


def sample_solutions(problems, ctx: Context, *, score: bool) -> list[SearchResult]:
    """n full solutions per problem, scored by the scorer when ``score`` is set.

    An adaptive schedule (``temps=early``) chooses each problem's temperatures from a probe;
    it samples through :func:`draw_solutions` as well, one generate call per phase.
    """
    calls = [0]
    scorer = ctx.scorer if score else None

    def draw(plans, salt=()):
        calls[0] += 1
        return draw_solutions(problems, ctx, plans, salt, scorer=scorer)

    if getattr(ctx.schedule, "adaptive", False):
        drawn = sample_early(ctx.schedule, ctx.n, len(problems), draw)
    else:
        temps = ctx.temperatures(ctx.n)
        drawn = [(temps, comps, {}) for comps in draw([temps] * len(problems))]
    results = []
    for temps, comps, counters in drawn:
        results.append(
            SearchResult(
                completions=[c.text for c in comps],
                scores=[[] for _ in comps],
                temperatures=list(temps),
                completion_tokens=[c.num_tokens for c in comps],
                generate_calls=calls[0],
                tree=[
                    node_record(j, c.text, t, c.num_tokens, c.finish_reason)
                    for j, (c, t) in enumerate(zip(comps, temps))
                ],
                counters=dict(counters),
            )
        )
        results[-1].charge(comps)
    if scorer is not None:
        traces = [[[scorer.token_values(c)] for c in comps] for _, comps, _ in drawn]
        score_results(problems, results, ctx, traces)
    return results


def sample_early(schedule, n: int, num_problems: int, draw) -> list:
    """``temps=early``: probe, decide per problem, fill; two ``draw`` calls for the shard.

    ``draw(plans, salt)`` samples ``plans[i]`` (one temperature per slot) for problem i in
    one generate call. Returns, per problem, ``(temperatures, completions, counters)``.
    """
    probes = draw([[schedule.low] * schedule.probe] * num_problems, ())
    tops = [_top_votes([c.text for c in comps]) for comps in probes]
    fill = [[schedule.fill_temperature(top)] * (n - schedule.probe) for top in tops]
    # A salt keeps the fill's seeds apart from the probe's at the same temperature.
    rest = draw(fill, ("fill",)) if n > schedule.probe else [[] for _ in fill]
    out = []
    for comps, extra, plan, top in zip(probes, rest, fill, tops):
        temps = [schedule.low] * schedule.probe + plan
        counters = {"early_easy": int(top >= schedule.thresh), "probe_top_votes": top}
        out.append((temps, list(comps) + list(extra), counters))
    return out


def _top_votes(texts: list[str]) -> int:
    """Votes of the most frequent answer among ``texts`` (no answer votes for nothing)."""
    return int(plurality([answer_key(t) for t in texts])[1])


def draw_solutions(
    problems, ctx: Context, plans, salt: tuple = (), *, scorer=None
) -> list[list[Completion]]:
    """Sample ``plans[i]`` (one temperature per slot) for problem i, all in one generate call.

    Each (problem, temperature) pair is one request seeded by ``(seed, problem, T, *salt)``;
    the completions come back in the plan's slot order. A ``scorer`` adds the log-probs it
    reads to every request.
    """
    extra = scorer.sampling() if scorer is not None else {}
    prompts, params = [], []
    for p, temps in zip(problems, plans):
        text = ctx.prompt(p) if temps else ""
        for t in sorted(set(temps)):
            prompts.append(text)
            params.append(
                SamplingParams(
                    n=temps.count(t),
                    temperature=t,
                    top_p=ctx.top_p,
                    max_tokens=ctx.max_tokens,
                    seed=derive_seed(ctx.seed, p.unique_id, t, *salt),
                    **extra,
                )
            )
    outputs = iter(ctx.generator.generate(prompts, params) if prompts else [])
    out = []
    for temps in plans:
        pools = {t: iter(next(outputs)) for t in sorted(set(temps))}
        out.append([next(pools[t]) for t in temps])  # restore the plan's slot order
    return out


def score_results(problems, results: list[SearchResult], ctx: Context, traces) -> None:
    """Score every completion with one scorer call for the whole shard.

    ``traces[i][j]``: what the scorer kept of completion j of problem i (its token values).
    """
    scorer = ctx.scorer
    questions, units, owner = [], [], []
    for p, r, trace in zip(problems, results, traces):
        for j, text in enumerate(r.completions):
            questions.append(p.problem)
            units.append(scorer.units(text, trace[j]))
            owner.append((r, j))
    out = scorer.score(questions, units)
    cached = out.cached_tokens or [0] * len(owner)
    for (r, j), s, tok, hit in zip(owner, out.scores, out.num_tokens, cached):
        r.scores[j] = s
        r.prm_tokens += tok
        r.prm_cached_tokens += hit
        r.tree[j]["score"] = s[-1] if s else None
        r.tree[j]["agg_score"] = aggregate(s, ctx.agg_strategy) if s else None
    for r in results:
        r.prm_calls = 1


@APPROACHES.register("best_of_n")
class BestOfN(Approach):
    """Sample n solutions, score them with the PRM; pred is the best aggregated score."""

    class Options(Options):
        whole_solution: ClassVar[bool] = True

    def search(self, problems, ctx):
        if ctx.scorer is None:
            raise ValueError("approach=best_of_n needs a scorer; use prm=toy or approach=majority")
        return sample_solutions(problems, ctx, score=True)


@APPROACHES.register("majority")
class Majority(Approach):
    """Self-consistency: n solutions, the most frequent answer wins. No PRM is needed.

    With a confidence scorer (``scorer=deepconf``: DeepConf offline) the completions are
    scored and the vote is weighted by the score, over the top ``scorer.keep`` share only.
    """

    class Options(Options):
        needs_scorer: ClassVar[bool] = False
        whole_solution: ClassVar[bool] = True
        pick: ClassVar[str] = "filtered"

    def search(self, problems, ctx):
        return sample_solutions(problems, ctx, score=ctx.scorer is not None)
