"""Whole-solution sampling: best-of-N (PRM-selected) and majority voting (no PRM).

Both draw n complete solutions per problem in one generate call, grouped by problem so a
prefix cache is reused. Slot j uses the schedule's temperature j; each (problem,
temperature) pair is one request with its own seed, so results do not depend on sharding.
"""

from __future__ import annotations

from typing import ClassVar

from ttscale.grading import extract_answer, normalize_answer
from ttscale.grading.plurality import plurality
from ttscale.prm import prm_steps
from ttscale.prm.aggregate import aggregate
from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context, Options
from ttscale.search.tree import node_record
from ttscale.types import Completion, SamplingParams, SearchResult, derive_seed


def sample_solutions(problems, ctx: Context, *, score: bool) -> list[SearchResult]:
    """n full solutions per problem, scored by the PRM when ``score`` is set.

    An adaptive schedule (``temps=early``) chooses each problem's temperatures from a probe;
    it samples through :func:`draw_solutions` as well, one generate call per phase.
    """
    calls = [0]

    def draw(plans, salt=()):
        calls[0] += 1
        return draw_solutions(problems, ctx, plans, salt)

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
                generated_tokens=sum(c.num_tokens for c in comps),
                generate_calls=calls[0],
                tree=[
                    node_record(j, c.text, t, c.num_tokens, c.finish_reason)
                    for j, (c, t) in enumerate(zip(comps, temps))
                ],
                counters=dict(counters),
            )
        )
    if score and ctx.prm is not None:
        score_results(problems, results, ctx)
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
    keys = [normalize_answer(a) if a else None for a in map(extract_answer, texts)]
    return int(plurality([k or None for k in keys])[1])


def draw_solutions(problems, ctx: Context, plans, salt: tuple = ()) -> list[list[Completion]]:
    """Sample ``plans[i]`` (one temperature per slot) for problem i, all in one generate call.

    Each (problem, temperature) pair is one request seeded by ``(seed, problem, T, *salt)``;
    the completions come back in the plan's slot order.
    """
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
                )
            )
    outputs = iter(ctx.generator.generate(prompts, params) if prompts else [])
    out = []
    for temps in plans:
        pools = {t: iter(next(outputs)) for t in sorted(set(temps))}
        out.append([next(pools[t]) for t in temps])  # restore the plan's slot order
    return out


def score_results(problems, results: list[SearchResult], ctx: Context) -> None:
    """Score every completion's steps with one PRM call for the whole shard."""
    questions, steps, owner = [], [], []
    for p, r in zip(problems, results):
        for j, text in enumerate(r.completions):
            questions.append(p.problem)
            steps.append(prm_steps(ctx.prm, text))
            owner.append((r, j))
    out = ctx.prm.score(questions, steps)
    for (r, j), s, tok in zip(owner, out.scores, out.num_tokens):
        r.scores[j] = s
        r.prm_tokens += tok
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
        if ctx.prm is None:
            raise ValueError(
                "approach=best_of_n needs a PRM; use prm=toy/oracle or approach=majority"
            )
        return sample_solutions(problems, ctx, score=True)


@APPROACHES.register("majority")
class Majority(Approach):
    """Self-consistency: n solutions, the most frequent answer wins. No PRM is needed."""

    class Options(Options):
        needs_prm: ClassVar[bool] = False
        whole_solution: ClassVar[bool] = True

    def search(self, problems, ctx):
        return sample_solutions(problems, ctx, score=False)
