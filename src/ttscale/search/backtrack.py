"""Backtracking search (tt_scale): collective and independent, batched across problems.

Both step every live branch of every problem with one generate and one PRM call per step.
A child passes when its own step score clears a threshold; failing branches back up and
retry at a higher temperature (``temperature + temperature_step * retry``). The search stops
once ``num_finished`` branches (default n) have finished, or after ``max_steps`` steps, the
last of which has no stop string. The answer is the best-scoring finished branch; the output
lists the finished branches, best first.

**Collective**: all branches of a problem step together. Children scoring above ``tau``
pass. If passers plus protected branches reach ``passing_minimum``, the best
``keeping_branches`` become the branches. Otherwise the passers are protected and the search
backs up: retry r re-expands the ``ceil(keeping * (1 - (r - 1) / max_backtracks))`` best
parents (3, 2, 1 by default, ranked by their children's mean score) with
``max_total_branches // parents`` children each. After ``max_backtracks`` failed retries a
"jump" step (one child per parent, base temperature) accepts anything.

**Independent**: n branches start at the prompt and back up on their own. A child passes if
its step score is >= ``tau - tau_decay * retries``; otherwise its parent is cloned with
retries + 1 (``clones`` clones while there is room), up to ``max_backtracks``, after which it
is rejected. If nothing is left, the parent of the best rejected child is rescued. Branches
are pruned to ``max_total_branches`` by (score, -retries).

Counters in the output row: steps, retries, backtracks (failures that started a retry) and
jumps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
)
from ttscale.types import Problem, SearchResult


class BacktrackOptions(StepOptions):
    """tt_scale's settings, shared by both backtracking searches."""

    tau: float = Field(0.6, ge=0, le=1, description="step score a child must clear")
    max_backtracks: int = Field(3, ge=0, description="retries before giving up on a branch")
    max_steps: int = Field(30, ge=1, description="steps at most; the last has no stop")
    k_tokens: int = Field(256, ge=1, description="per-step token budget")
    num_finished: int | None = Field(None, ge=1, description="finished branches to collect (n)")
    temperature_step: float = Field(0.1, ge=0, description="temperature added per retry")

    def name_part(self) -> str:
        return self.changed_part()

    def target(self, n: int) -> int:
        return self.num_finished or n


def _output(tree: Tree, finished: list[Node], fallback: list[Node], k: int) -> SearchResult:
    """The best k finished branches; with none, the best complete or partial ones."""
    return tree.result(top(finished, k) or top(fallback, k))


def _requests(ctx: Context, tree: Tree, layout, temps: list[float], it: int) -> list[Request]:
    """One request per (parent, base slot, temperature bump) in ``layout``."""
    return [
        Request(tree, parent, temps[slot % len(temps)] + bump, slot_seed(ctx, tree, k, it))
        for k, (parent, slot, bump) in enumerate(layout)
    ]


def _run(o: BacktrackOptions, problems: list[Problem], ctx: Context, make_state):
    """The shared loop: every live problem plans its requests, then one batched step.

    A state (one problem) has ``tree``, ``alive``, ``finished``, ``layout(o)`` (its next
    children), ``judge(kids, o)`` (what to keep) and ``fallback()`` (answers if none finish).
    """
    temps = ctx.temperatures(ctx.n)
    states = [make_state(Tree(p, ctx.prompt(p))) for p in problems]
    for it in range(o.max_steps):
        live = [s for s in states if s.alive]
        if not live:
            break
        plans = [_requests(ctx, s.tree, s.layout(o), temps, it) for s in live]
        children = expand(
            ctx,
            [r for plan in plans for r in plan],
            step_tokens=o.k_tokens,
            final=it == o.max_steps - 1,
        )
        for s, kids in zip(live, chunks(children, [len(p) for p in plans])):
            s.judge(kids, o)
            s.alive = s.alive and len(s.finished) < o.target(ctx.n)
    return [_output(s.tree, s.finished, s.fallback(), o.target(ctx.n)) for s in states]


def _step_score(c: Node) -> float:
    return c.step_score if c.step_score is not None else 0.0


@dataclass
class _Collective:
    tree: Tree
    active: list[Node | None] = field(default_factory=lambda: [None])
    protected: list[Node] = field(default_factory=list)
    finished: list[Node] = field(default_factory=list)
    complete: list[Node] = field(default_factory=list)  # finished or not passing: a fallback
    retry: int = 0
    jump: bool = False
    alive: bool = True

    def layout(self, o: CollectiveBacktrack.Options) -> list[tuple[Node | None, int, float]]:
        """(parent, slot, temperature bump) per child: one per branch, more on a retry."""
        per = 1 if self.retry == 0 else max(1, o.max_total_branches // len(self.active))
        parents = [p for p in self.active for _ in range(per)]
        return [(p, k, o.temperature_step * self.retry) for k, p in enumerate(parents)]

    def judge(self, kids: list[Node], o: CollectiveBacktrack.Options) -> None:
        """Go on with the best passers, or protect them and back up."""
        self.complete += [c for c in kids if c.done]
        passed = [c for c in kids if self.jump or _step_score(c) > o.tau]
        self.finished += [c for c in passed if c.done]
        passers = [c for c in passed if not c.done]
        if self.jump or len(passed) + len(self.protected) >= o.passing_minimum:
            self.active = top(passers + self.protected, o.keeping_branches)
            for c in self.active:
                c.kept = True
            self.protected, self.retry, self.jump = [], 0, False
            self.alive = bool(self.active)
        else:
            self.protected += passers
            self._back_up(kids, o)

    def _back_up(self, kids: list[Node], o: CollectiveBacktrack.Options) -> None:
        """Retry the best parents, fewer each time; after max_backtracks, jump."""
        mean: dict[int, list[float]] = {}
        for c in kids:
            mean.setdefault(id(c.parent), []).append(c.score)
        ranked = sorted(self.active, key=lambda p: -sum(mean[id(p)]) / len(mean[id(p)]))
        if self.retry == 0:
            self.tree.count("backtracks")
        if self.retry >= o.max_backtracks:
            self.tree.count("jumps")
            self.active, self.retry, self.jump = ranked[:1], 0, True
            return
        self.retry += 1
        self.tree.count("retries")
        # ceil(keeping * (1 - (retry - 1) / max_backtracks)) in integers: 3, 2, 1 exactly.
        keep = -(-o.keeping_branches * (o.max_backtracks - self.retry + 1) // o.max_backtracks)
        self.active = ranked[: max(1, keep)]

    def fallback(self) -> list[Node]:
        return self.complete or [c for c in self.active + self.protected if c is not None]


@APPROACHES.register("collective_backtrack")
class CollectiveBacktrack(Approach):
    """tt_scale's collective backtracking: all branches of a problem back up together."""

    class Options(BacktrackOptions):
        max_total_branches: int = Field(9, ge=1, description="children per retry, in total")
        passing_minimum: int = Field(3, ge=1, description="passers needed to go on")
        keeping_branches: int = Field(3, ge=1, description="branches kept after a step")

        def check(self, run) -> list[str]:
            errors = super().check(run)
            for key in ("passing_minimum", "keeping_branches"):
                if getattr(self, key) > self.max_total_branches:
                    errors.append(
                        f"approach.{key}: must be <= max_total_branches "
                        f"({self.max_total_branches}), got {getattr(self, key)}"
                    )
            return errors

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        require_scorer(ctx, "collective_backtrack")
        return _run(self.options, problems, ctx, _Collective)


@dataclass
class _Branch:
    node: Node | None
    retries: int
    slot: int  # the schedule slot whose temperature this branch started from

    @property
    def score(self) -> float:
        return self.node.score if self.node else 0.0


@dataclass
class _Independent:
    tree: Tree
    active: list[_Branch]
    cap: int  # live branches at most
    finished: list[Node] = field(default_factory=list)
    alive: bool = True

    def layout(self, o: IndependentBacktrack.Options) -> list[tuple[Node | None, int, float]]:
        """One child per branch, hotter by the branch's retries."""
        return [(b.node, b.slot, o.temperature_step * b.retries) for b in self.active]

    def judge(self, kids: list[Node], o: IndependentBacktrack.Options) -> None:
        """Finish, pass, clone the parent for a retry, or reject each branch; then prune."""
        nxt: list[_Branch] = []
        rejected: list[tuple[Node, _Branch]] = []
        retried = False
        for b, c in zip(self.active, kids):
            if c.done and c.prefix.strip():
                self.finished.append(c)  # tt_scale collects finished branches unconditionally
            elif not c.done and _step_score(c) >= o.tau - o.tau_decay * b.retries:
                c.kept = True
                nxt.append(_Branch(c, 0, b.slot))
            elif b.retries < o.max_backtracks:
                retried = True
                self.tree.count("retries")
                clones = o.clones if len(nxt) < self.cap else 1
                nxt += [_Branch(b.node, b.retries + 1, b.slot) for _ in range(clones)]
            else:
                rejected.append((c, b))
        if not nxt and rejected:  # rescue the parent of the best rejected child
            _, b = max(rejected, key=lambda cb: (cb[0].score, -cb[0].id))
            nxt.append(_Branch(b.node, b.retries + 1, b.slot))
            self.tree.count("retries")
            retried = True
        if retried:
            self.tree.count("backtracks")
        nxt.sort(key=lambda b: (-b.score, b.retries))
        self.active = nxt[: self.cap]
        self.alive = bool(self.active)

    def fallback(self) -> list[Node]:
        return [b.node for b in self.active if b.node is not None]


@APPROACHES.register("independent_backtrack")
class IndependentBacktrack(Approach):
    """tt_scale's independent backtracking: each branch backs up on its own."""

    class Options(BacktrackOptions):
        max_total_branches: int | None = Field(
            None, ge=1, description="live branches at most (None: 2 x num_finished)"
        )
        tau_decay: float = Field(0.05, ge=0, description="threshold drop per retry")
        clones: int = Field(2, ge=1, description="clones of a failing branch's parent")

        def check(self, run) -> list[str]:
            errors = super().check(run)
            cap, want = self.max_total_branches, self.target(run.n)
            if cap is not None and cap < want:
                errors.append(
                    f"approach.max_total_branches: must be >= num_finished ({want}), got {cap}"
                )
            return errors

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        require_scorer(ctx, "independent_backtrack")
        o = self.options
        want = o.target(ctx.n)
        cap = o.max_total_branches or 2 * want
        return _run(
            o,
            problems,
            ctx,
            lambda t: _Independent(t, [_Branch(None, 0, j) for j in range(want)], cap),
        )
