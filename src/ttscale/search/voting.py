"""Two-stage voting with early exit (temperature-tts), over the schedule's temperatures.

Sampling goes round-robin in rounds: each round draws ``samples_per_round`` more samples at
every temperature of every live problem, all in ONE generate call. After a round a problem
exits when

1. every temperature has at least ``min_samples_per_temp`` samples (the reference scaffold
   has no minimum, so a single sample per temperature could exit);
2. every temperature's majority answer holds a share >= ``tau_intra`` of its samples
   (unanswered samples count in the denominator: they are disagreement);
3. the temperatures' majorities agree with a share >= ``tau_cross`` (1.0: unanimous).

The answer is the consensus; a problem that spends its whole budget answers the plurality
of all its samples. With ``tau_intra > 0.5`` and ``tau_cross = 1`` (the defaults) the
consensus is also that plurality, so the row's ``pred``/``is_correct`` agree with the vote;
``counters["vote_index"]`` points at a completion carrying the two-stage answer in any case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from ttscale.grading.plurality import plurality
from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context, Options
from ttscale.search.tree import node_record
from ttscale.types import Problem, SamplingParams, SearchResult, derive_seed


def _top(keys: Sequence[Hashable | None]) -> tuple[Hashable | None, int]:
    """Most frequent non-None key (first appearance wins ties) and its count."""
    winner, count = plurality(keys)
    return winner, int(count)


def two_stage_vote(
    by_temp: Sequence[Sequence[Hashable | None]],
    *,
    tau_intra: float,
    tau_cross: float,
    min_samples: int,
) -> Hashable | None:
    """The consensus answer if both stages pass, else None.

    Args:
        by_temp: per temperature, the answer keys of its samples so far (None: no answer).
        tau_intra: share the majority needs within every temperature.
        tau_cross: share of temperatures whose majorities must agree.
        min_samples: samples every temperature needs before any exit.
    """
    if not by_temp or any(len(keys) < min_samples for keys in by_temp):
        return None
    majorities = []
    for keys in by_temp:
        top, count = _top(keys)
        if top is None or count / len(keys) < tau_intra:
            return None
        majorities.append(top)
    top, count = _top(majorities)
    return top if count / len(majorities) >= tau_cross else None


class _Problem:
    """One problem's samples so far."""

    def __init__(self, problem: Problem, prompt: str) -> None:
        self.problem = problem
        self.prompt = prompt
        self.texts: list[str] = []
        self.temps: list[float] = []
        self.tokens: list[int] = []
        self.finish: list[str] = []
        self.keys: list[Hashable | None] = []
        self.rounds = 0
        self.exit_round = -1
        self.answer: Hashable | None = None
        self.prompt_cost = [0, 0]  # prompt tokens computed, served from a cache

    def drawn(self, t: float) -> int:
        return self.temps.count(t)

    def by_temp(self, grid: Sequence[float]) -> list[list[Hashable | None]]:
        return [[k for k, u in zip(self.keys, self.temps) if u == t] for t in grid]


class _Keys:
    """Answer keys: normalised extracted answers, or math-verify equivalence classes."""

    def __init__(self, match: str) -> None:
        self.match = match
        self.grader = None

    def __call__(self, states: list[_Problem]) -> None:
        from ttscale.grading import Grader, answer_key, extract_answer

        if self.match == "normalized":
            for s in states:
                s.keys = [answer_key(t) for t in s.texts]
            return
        answers = [[extract_answer(t) for t in s.texts] for s in states]
        if self.grader is None:
            self.grader = Grader()
        for s, labels in zip(states, self.grader.cluster_many(answers)):
            s.keys = [lbl if lbl >= 0 else None for lbl in labels]

    def close(self) -> None:
        if self.grader is not None:
            self.grader.close()


def _node(s: _Problem, j: int) -> dict:
    """Sample j as a tree node, in the layout whole-solution sampling writes."""
    return node_record(j, s.texts[j], s.temps[j], s.tokens[j], s.finish[j])


@APPROACHES.register("two_stage_voting")
class TwoStageVoting(Approach):
    """Round-robin multi-temperature sampling with two-stage voting and early exit."""

    class Options(Options):
        needs_scorer: ClassVar[bool] = False
        takes_scorer: ClassVar[bool] = False  # it votes per temperature
        tau_intra: float = Field(0.8, gt=0, le=1)
        tau_cross: float = Field(1.0, gt=0, le=1)
        min_samples_per_temp: int = Field(2, ge=1)
        samples_per_round: int = Field(1, ge=1)
        early_exit: bool = True
        match: Literal["normalized", "math_verify"] = "normalized"

        def check(self, run) -> list[str]:
            errors = super().check(run)
            try:
                per_temp = min(Counter(run.temperature_schedule.slots(run.n)).values())
            except Exception:
                return errors  # the schedule reports its own problems
            if self.early_exit and self.min_samples_per_temp > per_temp:
                errors += [
                    f"approach.min_samples_per_temp: {self.min_samples_per_temp} is more "
                    f"than the {per_temp} samples some temperature gets from n={run.n}; "
                    "raise n or lower the minimum (or set approach.early_exit=false)"
                ]
            return errors

        def name_part(self) -> str:
            name = (
                f"--tau-{self.tau_intra:g}_{self.tau_cross:g}"
                f"--min-{self.min_samples_per_temp}--round-{self.samples_per_round}"
            )
            if not self.early_exit:
                name += "--no_exit"
            return name + ("--match-math_verify" if self.match == "math_verify" else "")

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        plan = ctx.temperatures(ctx.n)
        grid = list(dict.fromkeys(plan))  # distinct temperatures, in slot order
        budget = Counter(plan)
        states = [_Problem(p, ctx.prompt(p)) for p in problems]
        keys = _Keys(self.options.match)
        try:
            live = list(states)
            while live:
                live = self._round(live, grid, budget, ctx, keys)
        finally:
            keys.close()
        return [self._result(s, len(plan)) for s in states]

    def _round(self, live: list[_Problem], grid, budget: Counter, ctx: Context, keys: _Keys):
        """Sample one round for every live problem (one generate call); return those left."""
        o = self.options
        requests = []
        for s in live:
            for t in grid:
                k = min(o.samples_per_round, budget[t] - s.drawn(t))
                if k > 0:
                    requests.append((s, t, self._params(ctx, s, t, k)))
        if not requests:
            return []
        outputs = ctx.generator.generate(
            [s.prompt for s, _, _ in requests], [p for _, _, p in requests]
        )
        for (s, t, _), comps in zip(requests, outputs):
            s.prompt_cost[0] += sum(c.prompt_tokens for c in comps)
            s.prompt_cost[1] += sum(c.cached_tokens for c in comps)
            for c in comps:
                s.texts.append(c.text)
                s.temps.append(t)
                s.tokens.append(c.num_tokens)
                s.finish.append(c.finish_reason)
        for s in live:
            s.rounds += 1
        keys(live)
        left = []
        for s in live:
            answer = None
            if o.early_exit:
                answer = two_stage_vote(
                    s.by_temp(grid),
                    tau_intra=o.tau_intra,
                    tau_cross=o.tau_cross,
                    min_samples=o.min_samples_per_temp,
                )
            if answer is not None:
                s.answer, s.exit_round = answer, s.rounds
            elif len(s.temps) < sum(budget.values()):
                left.append(s)
            else:
                s.answer = _top(s.keys)[0]  # budget spent: plurality of all samples
        return left

    @staticmethod
    def _params(ctx: Context, s: _Problem, t: float, k: int) -> SamplingParams:
        # Seeded by round, so a run with early exit draws a prefix of a full one.
        seed = derive_seed(ctx.seed, s.problem.unique_id, t, "round", s.rounds)
        return SamplingParams(
            n=k, temperature=t, top_p=ctx.top_p, max_tokens=ctx.max_tokens, seed=seed
        )

    @staticmethod
    def _result(s: _Problem, budget: int) -> SearchResult:
        used = sum(s.tokens)
        full = used if s.exit_round < 0 else round(used * budget / max(len(s.texts), 1))
        vote_index = next(
            (j for j, k in enumerate(s.keys) if s.answer is not None and k == s.answer), -1
        )
        return SearchResult(
            completions=list(s.texts),
            scores=[[] for _ in s.texts],
            temperatures=list(s.temps),
            completion_tokens=list(s.tokens),
            generated_tokens=used,
            prompt_tokens=s.prompt_cost[0],
            cached_tokens=s.prompt_cost[1],
            generate_calls=s.rounds,
            tree=[_node(s, j) for j in range(len(s.texts))],
            counters={
                "exit_round": s.exit_round,  # -1: no exit, the whole budget was sampled
                "rounds": s.rounds,
                "samples_used": len(s.texts),
                "budget_samples": budget,
                "tokens_used": used,
                # Estimated for an early exit: mean tokens per sample so far x budget.
                "tokens_full_budget": full,
                "vote_index": vote_index,
            },
        )
