"""Adaptive budgets for majority voting: stop sampling a problem early, or spread a fixed
budget over problems by their estimated difficulty.

- ``approach=adaptive_majority`` samples in windows of ``window`` per live problem (one
  generate call per round) and stops a problem by ``rule``:
  ``esc`` (Early-Stopping Self-Consistency, arXiv 2401.10480): the last window is unanimous;
  ``beta`` (Adaptive-Consistency, arXiv 2305.11860): with the top two answers' counts v1, v2,
  P(p1 > p2) under Beta(v1 + 1, v2 + 1), i.e. ``1 - I_0.5(v1 + 1, v2 + 1)``, reaches
  ``threshold``; ``none``: never (the full budget, with the same draws: the baseline).
  A problem takes at least ``min_samples`` and at most n samples.
- ``approach=compute_optimal`` (after Snell et al., arXiv 2408.03314): a probe of ``probe``
  samples per problem estimates difficulty by the top answer's share; the rest of the
  shard's budget (n per problem on average) goes to the problems whose estimate says more
  samples can change the vote, in proportion to ``1 - share`` (a unanimous probe gets none);
  no problem gets more than ``max_samples``. The total never exceeds n x problems.

Samples are seeded by (problem, round), so a run that stops early drew a prefix of the draws
of ``rule=none``. Counters: ``samples_used``, ``budget_samples``, ``rounds``, ``stopped``,
``tokens_used``, ``vote_index`` (a completion carrying the voted answer).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from ttscale.grading import answer_key
from ttscale.grading.plurality import plurality
from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context, Options
from ttscale.search.tree import node_record
from ttscale.types import Completion, Problem, SamplingParams, SearchResult, derive_seed


def esc_stop(window: Sequence[Hashable | None]) -> bool:
    """ESC: stop when every answer of the last window is the same (and is an answer)."""
    return bool(window) and window[0] is not None and all(k == window[0] for k in window)


def beta_confidence(keys: Sequence[Hashable | None]) -> float:
    """Adaptive-Consistency's Beta rule: P(p1 > p2) for the top two answers' counts."""
    counts = sorted(
        (sum(1 for k in keys if k == key) for key in {k for k in keys if k is not None}),
        reverse=True,
    )
    v1 = counts[0] if counts else 0
    v2 = counts[1] if len(counts) > 1 else 0
    return 1.0 - regularized_beta(0.5, v1 + 1, v2 + 1)


def regularized_beta(x: float, a: int, b: int) -> float:
    """I_x(a, b) for integer a, b >= 1: P(Binomial(a + b - 1, x) >= a)."""
    n = a + b - 1
    return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))


def allocate(shares: Sequence[float], probe: int, total: int, cap: int) -> list[int]:
    """Samples per problem: ``probe`` each, the rest of ``total`` by ``1 - share``.

    Largest remainders round the proportional split; no problem exceeds ``cap``; what a
    capped problem cannot take goes to the others. ``sum(out) <= total`` always.
    """
    out = [min(probe, cap)] * len(shares)
    left = total - sum(out)
    need = [max(0.0, 1.0 - s) for s in shares]
    while left > 0:
        open_ = [i for i in range(len(out)) if out[i] < cap and need[i] > 0]
        if not open_:
            break
        weight = sum(need[i] for i in open_)
        quota = {i: left * need[i] / weight for i in open_}
        give = {i: min(cap - out[i], math.floor(quota[i])) for i in open_}
        rest = left - sum(give.values())
        for i in sorted(open_, key=lambda i: -(quota[i] - math.floor(quota[i]))):
            if rest <= 0:
                break
            if out[i] + give[i] < cap:
                give[i] += 1
                rest -= 1
        if not any(give.values()):
            break
        for i, g in give.items():
            out[i] += g
        left = total - sum(out)
    return out


class Draws:
    """One problem's draws so far."""

    def __init__(self, problem: Problem, prompt: str, budget: int) -> None:
        self.problem, self.prompt, self.budget = problem, prompt, budget
        self.comps: list[Completion] = []
        self.keys: list[Hashable | None] = []
        self.rounds = 0
        self.stopped = False

    def result(self, temperature: float) -> SearchResult:
        winner, _ = plurality(self.keys)
        vote = next((j for j, k in enumerate(self.keys) if winner is not None and k == winner), -1)
        comps = self.comps
        r = SearchResult(
            completions=[c.text for c in comps],
            scores=[[] for _ in comps],
            temperatures=[temperature] * len(comps),
            completion_tokens=[c.num_tokens for c in comps],
            generate_calls=self.rounds,
            tree=[
                node_record(j, c.text, temperature, c.num_tokens, c.finish_reason)
                for j, c in enumerate(comps)
            ],  # fmt: skip
        )
        r.charge(comps)
        r.counters = {
            "samples_used": len(comps),
            "budget_samples": self.budget,
            "rounds": self.rounds,
            "stopped": int(self.stopped),
            "tokens_used": r.generated_tokens,
            "vote_index": vote,
        }
        return r


def draw_round(
    states: Sequence[Draws],
    sizes: Sequence[int],
    ctx: Context,
    t: float,
    *,
    extra: Sequence[dict] | None = None,
    generate=None,
) -> list[list[Completion]]:
    """One generate call: ``sizes[i]`` more samples for state i, seeded by its round.

    ``extra[i]``: more :class:`SamplingParams` fields for state i; ``generate``: the call
    (default ``ctx.generator.generate``). Returns each state's new completions.
    """
    extra = extra or [{}] * len(states)
    todo = [(s, k, x) for s, k, x in zip(states, sizes, extra) if k > 0]
    params = [
        SamplingParams(n=k, temperature=t, top_p=ctx.top_p, max_tokens=ctx.max_tokens,
                       seed=derive_seed(ctx.seed, s.problem.unique_id, t, "round", s.rounds), **x)
        for s, k, x in todo
    ]  # fmt: skip
    call = generate or ctx.generator.generate
    outputs = call([s.prompt for s, _, _ in todo], params) if todo else []
    new = {id(s): comps for (s, _, _), comps in zip(todo, outputs)}
    for s, _, _ in todo:
        s.comps += new[id(s)]
        s.keys += [answer_key(c.text) for c in new[id(s)]]
        s.rounds += 1
    return [new.get(id(s), []) for s in states]


class SingleTemperature(Options):
    """Options of an adaptive budget: one temperature (``temps=single``)."""

    needs_scorer: ClassVar[bool] = False
    takes_scorer: ClassVar[bool] = False
    whole_solution: ClassVar[bool] = True

    def check(self, run) -> list[str]:
        name = run.temperature_schedule.name
        if name != "single":
            return [f"temps: approach={self.name} samples at one temperature, got temps={name}"]
        return super().check(run)


def one_temperature(ctx: Context, approach: str) -> float:
    temps = set(ctx.temperatures(ctx.n))
    if len(temps) != 1:
        raise ValueError(f"approach={approach} samples at one temperature (temps=single)")
    return temps.pop()


@APPROACHES.register("adaptive_majority")
class AdaptiveMajority(Approach):
    """Majority voting that stops each problem once its vote is settled (ESC or Beta)."""

    class Options(SingleTemperature):
        rule: Literal["esc", "beta", "none"] = "esc"
        window: int = Field(4, ge=1)  # samples per problem and round
        min_samples: int = Field(4, ge=1)
        threshold: float = Field(0.95, gt=0.5, lt=1)  # rule=beta

        def name_part(self) -> str:
            return f"--{self.rule}-w{self.window}" + (
                f"-c{self.threshold:g}" if self.rule == "beta" else ""
            )

    def search(self, problems, ctx):
        o = self.options
        t = one_temperature(ctx, "adaptive_majority")
        states = [Draws(p, ctx.prompt(p), ctx.n) for p in problems]
        live = list(states)
        while live:
            draw_round(live, [min(o.window, ctx.n - len(s.comps)) for s in live], ctx, t)
            left = []
            for s in live:
                used = len(s.comps)
                settled = used >= o.min_samples and (
                    (o.rule == "esc" and esc_stop(s.keys[-o.window :]))
                    or (o.rule == "beta" and beta_confidence(s.keys) >= o.threshold)
                )
                s.stopped = settled and used < ctx.n
                if not settled and used < ctx.n:
                    left.append(s)
            live = left
        return [s.result(t) for s in states]


@APPROACHES.register("compute_optimal")
class ComputeOptimal(Approach):
    """A probe per problem, then the shard's remaining budget where the vote is unsettled."""

    class Options(SingleTemperature):
        probe: int = Field(4, ge=1)
        max_samples: int = Field(64, ge=1)

        def name_part(self) -> str:
            return f"--probe-{self.probe}-max-{self.max_samples}"

    def search(self, problems, ctx):
        o = self.options
        t = one_temperature(ctx, "compute_optimal")
        states = [Draws(p, ctx.prompt(p), ctx.n) for p in problems]
        probe = min(o.probe, ctx.n)
        draw_round(states, [probe] * len(states), ctx, t)
        shares = [plurality(s.keys)[1] / len(s.keys) for s in states]
        plan = allocate(shares, probe, ctx.n * len(states), max(o.max_samples, probe))
        draw_round(states, [k - len(s.comps) for s, k in zip(states, plan)], ctx, t)
        return [s.result(t) for s in states]
