"""PRM-guided beam search (search-and-learn), batched across the problems of a shard.

Every problem starts with n beams at the prompt. Each iteration samples one step per beam
(beam slot j at the schedule's temperature j), scores the prefixes, moves finished beams
aside, keeps the top ``n / beam_width`` of the rest and repeats them cyclically back up to n.
The last iteration has no stop string. The output is the first n finished beams (or the n
best with ``sort_completed``), repeated up to n when fewer finished, as the anchor does.

Unlike the anchor, all problems advance together: one generate and one PRM call per iteration
for the whole shard (search-and-learn runs one problem at a time), lookahead steps really are
scored, and tokens are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context
from ttscale.search.steps import (
    Node,
    Request,
    StepOptions,
    Tree,
    chunks,
    expand,
    require_scorer,
    slot_seed,
    top,
    unique,
)
from ttscale.types import Problem, SearchResult


class TreeOptions(StepOptions):
    """Options shared by beam search and DVTS (search-and-learn's names and defaults)."""

    beam_width: int = Field(4, ge=1, description="children per kept beam (m)")
    num_iterations: int = Field(40, ge=1, description="steps at most; the last has no stop")
    lookahead: int = Field(0, ge=0, description="greedy steps used only for scoring")
    filter_duplicates: bool = False
    step_tokens: int | None = Field(None, ge=1, description="per-step budget; None: the rest")

    def check(self, run) -> list[str]:
        errors = super().check(run)
        if self.beam_width > run.n:
            errors.append(f"approach.beam_width: must be <= n ({run.n}), got {self.beam_width}")
        elif run.n % self.beam_width:
            errors.append(
                f"approach.beam_width: n ({run.n}) must be divisible by beam_width "
                f"({self.beam_width})"
            )
        return errors

    # search-and-learn writes "agg_strategy--last" in step-search names
    agg_separator: ClassVar[str] = "--"

    def name_part(self) -> str:
        """search-and-learn's fields; other options are in the run identity, not the name."""
        return f"--m-{self.beam_width}--iters-{self.num_iterations}--look-{self.lookahead}"


@dataclass
class _Beams:
    tree: Tree
    live: list[Node | None]  # one entry per beam slot; repeats share a node
    completed: list[Node] = field(default_factory=list)


@APPROACHES.register("beam_search")
class BeamSearch(Approach):
    """Keep the top n/beam_width beams each step and refill to n (search-and-learn)."""

    class Options(TreeOptions):
        sort_completed: bool = False

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        require_scorer(ctx, "beam_search")
        o = self.options
        temps = ctx.temperatures(ctx.n)
        states = [_Beams(Tree(p, ctx.prompt(p)), [None] * ctx.n) for p in problems]
        for it in range(o.num_iterations):
            running = [s for s in states if s.live]
            if not running:
                break
            requests = [
                Request(s.tree, parent, temps[j], slot_seed(ctx, s.tree, j, it))
                for s in running
                for j, parent in enumerate(s.live)
            ]
            children = expand(
                ctx,
                requests,
                step_tokens=o.step_tokens,
                lookahead=o.lookahead,
                final=it == o.num_iterations - 1,
            )
            for s, kids in zip(running, chunks(children, [len(s.live) for s in running])):
                self._select(s, kids, ctx.n)
        return [self._output(s, ctx.n) for s in states]

    def _select(self, s: _Beams, kids: list[Node], n: int) -> None:
        """Set finished beams aside; keep the top n/beam_width others, repeated up to n."""
        o = self.options
        s.completed += [c for c in kids if c.done]
        active = [c for c in kids if not c.done]
        if o.filter_duplicates:
            active = unique(active)
        best = top(active, n // o.beam_width)
        if len(s.completed) >= n and not o.sort_completed:
            best = []  # the output is the first n finished beams: more search changes nothing
        for c in best:
            c.kept = True
        s.live = [best[j % len(best)] for j in range(n)] if best else []

    def _output(self, s: _Beams, n: int) -> SearchResult:
        done = top(s.completed, n) if self.options.sort_completed else s.completed[:n]
        # The last iteration has no stop string, so every problem has finished beams.
        return s.tree.result([done[j % len(done)] for j in range(n)])
