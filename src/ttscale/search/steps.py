"""The one step machinery shared by every step-level search (beam search, DVTS, backtracking).

A search grows one :class:`Tree` per problem. :func:`expand` advances a batch of requests,
from any number of problems at once, by one step:

1. one generate call: each request continues ``prompt + prefix`` with stop ``"\\n\\n"`` (kept in
   the text) under a per-step token budget; a ``final`` step has no stop string;
2. completion detection (:func:`is_complete`): EOS, the length limit, an empty step, or a step
   holding a final ``\\boxed{...}``;
3. optional greedy lookahead: up to ``lookahead`` more steps per live child, one generate call
   each, used only for scoring and then dropped (search-and-learn generates them but scores
   without them);
4. one scorer call over every prefix (plus its lookahead), reduced with ``ctx.agg_strategy``:
   a PRM reads the text's steps; a confidence scorer the log-probs kept per step (``trace``).

Every generated token, PRM token and call is charged to the problem's tree and every child is
recorded as a node, so a result's token counts equal the sums over its tree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ttscale.prm.aggregate import aggregate
from ttscale.prompts import STEP_DELIMITER
from ttscale.search.base import Context, Options
from ttscale.search.tree import node_record
from ttscale.types import Completion, Problem, SamplingParams, SearchResult, derive_seed

_BOXED = re.compile(r"\\boxed\{.*\}", re.DOTALL)


def is_complete(text: str, finish: str, out_of_budget: bool) -> bool:
    """A step ends its solution on EOS, length, an empty step or a final ``\\boxed{...}``."""
    return (
        finish in ("eos", "length")
        or out_of_budget
        or not text.strip()
        or _BOXED.search(text) is not None
    )


@dataclass(eq=False)
class Node:
    """One generated step. ``prefix`` is the whole solution text up to and including it."""

    id: int
    parent: Node | None
    text: str
    temperature: float
    tokens: int
    finish: str
    prefix: str
    path_tokens: int  # tokens of ``prefix``: what this completion cost without its siblings
    done: bool
    lookahead_tokens: int = 0
    trace: list[list[float]] = field(default_factory=list)  # scorer's token values, per step
    step_scores: list[float] = field(default_factory=list)  # the prefix's own steps
    step_score: float | None = None  # this step's own score; None for an empty step
    score: float = 0.0  # selection score: aggregated over the prefix and its lookahead
    kept: bool = False

    def record(self) -> dict[str, Any]:
        """The node as a row of the output's ``tree`` column."""
        return node_record(
            self.id, self.text, self.temperature, self.tokens, self.finish,
            parent=self.parent.id if self.parent else None, score=self.step_score,
            agg_score=self.score, kept=self.kept, lookahead_tokens=self.lookahead_tokens,
            done=self.done,
        )  # fmt: skip


class Tree:
    """One problem's search: its nodes, and the compute charged to it."""

    def __init__(self, problem: Problem, prompt: str) -> None:
        self.problem = problem
        self.prompt = prompt
        self.nodes: list[Node] = []
        self.generated_tokens = 0
        self.prompt_tokens = 0  # prompt (+ prefix) tokens the generator computed
        self.cached_tokens = 0  # ... and served from a cache
        self.prm_tokens = 0  # PRM tokens computed
        self.prm_cached_tokens = 0  # ... and served from its prefix cache
        self.generate_calls = 0
        self.prm_calls = 0
        self.counters: dict[str, int] = {"steps": 0}

    def count(self, key: str, k: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + k

    def add(
        self,
        parent: Node | None,
        c: Completion,
        temperature: float,
        max_tokens: int,
        values: list[float] | None = None,
    ) -> Node:
        """Record a generated step as a child of ``parent`` (None: the prompt).

        ``values``: what the scorer keeps of the step's tokens (its trace grows by them).
        """
        path_tokens = (parent.path_tokens if parent else 0) + c.num_tokens
        node = Node(
            id=len(self.nodes),
            parent=parent,
            text=c.text,
            temperature=temperature,
            tokens=c.num_tokens,
            finish=c.finish_reason,
            prefix=(parent.prefix if parent else "") + c.text,
            path_tokens=path_tokens,
            done=is_complete(c.text, c.finish_reason, path_tokens >= max_tokens),
            trace=[*(parent.trace if parent else []), values or []],
        )
        self.nodes.append(node)
        self.charge(c)
        return node

    def charge(self, c: Completion) -> None:
        """Count what generating ``c`` cost (a step, or a lookahead step)."""
        self.generated_tokens += c.num_tokens
        self.prompt_tokens += c.prompt_tokens
        self.cached_tokens += c.cached_tokens

    def result(self, leaves: Sequence[Node]) -> SearchResult:
        """The output row's columns: one completion per leaf, in order."""
        for leaf in leaves:
            node: Node | None = leaf
            while node is not None:  # a completion's whole path was kept
                node.kept = True
                node = node.parent
        return SearchResult(
            completions=[x.prefix for x in leaves],
            scores=[list(x.step_scores) for x in leaves],
            temperatures=[x.temperature for x in leaves],
            completion_tokens=[x.path_tokens for x in leaves],
            generated_tokens=self.generated_tokens,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            prm_tokens=self.prm_tokens,
            prm_cached_tokens=self.prm_cached_tokens,
            generate_calls=self.generate_calls,
            prm_calls=self.prm_calls,
            tree=[x.record() for x in self.nodes],
            counters=dict(self.counters),
        )


@dataclass(frozen=True)
class Request:
    """Sample one child of ``parent`` (None: the prompt) in ``tree``."""

    tree: Tree
    parent: Node | None
    temperature: float
    seed: int


def slot_seed(ctx: Context, tree: Tree, slot: int, iteration: int) -> int:
    """Seed of one draw: a function of (problem, slot, iteration) only, not of the shard."""
    return derive_seed(ctx.seed, tree.problem.unique_id, slot, iteration)


def expand(
    ctx: Context,
    requests: Sequence[Request],
    *,
    step_tokens: int | None = None,
    final: bool = False,
    lookahead: int = 0,
) -> list[Node]:
    """Generate, look ahead and score one child per request; children in request order.

    Args:
        step_tokens: per-step token budget (None: the rest of ``ctx.max_tokens``).
        final: no stop string: every child runs to EOS or to the end of its budget.
        lookahead: greedy extra steps per live child, used only for its score.
    """
    if not requests:
        return []
    if any(r.parent is not None and r.parent.done for r in requests):
        raise ValueError("cannot expand a finished node")
    trees = [r.tree for r in requests]
    children = _generate(ctx, requests, step_tokens, final)
    for tree in _distinct(trees):
        tree.count("steps")
    extra: list[tuple[str, list]] = [("", [])] * len(children)
    if lookahead and not final:
        extra = _look_ahead(ctx, trees, children, lookahead, step_tokens)
    _score(ctx, trees, children, extra)
    return children


def _distinct(trees: Iterable[Tree]) -> list[Tree]:
    return list({id(t): t for t in trees}.values())


def _charge_calls(trees: Iterable[Tree], kind: str) -> None:
    """A batched call counts once for every problem that took part in it."""
    for tree in _distinct(trees):
        setattr(tree, kind, getattr(tree, kind) + 1)


def _budget(ctx: Context, used: int, step_tokens: int | None, final: bool) -> int:
    left = ctx.max_tokens - used
    return left if final or step_tokens is None else min(left, step_tokens)


def _generate(ctx: Context, requests: Sequence[Request], step_tokens, final) -> list[Node]:
    prompts, params = [], []
    stop = () if final else (STEP_DELIMITER,)
    extra = ctx.scorer.sampling() if ctx.scorer is not None else {}
    for r in requests:
        prefix, used = (r.parent.prefix, r.parent.path_tokens) if r.parent else ("", 0)
        prompts.append(r.tree.prompt + prefix)
        params.append(
            SamplingParams(
                n=1,
                temperature=r.temperature,
                top_p=ctx.top_p,
                stop=stop,
                seed=r.seed,
                max_tokens=_budget(ctx, used, step_tokens, final),
                **extra,
            )
        )
    outputs = ctx.generator.generate(prompts, params)
    _charge_calls((r.tree for r in requests), "generate_calls")
    return [
        r.tree.add(r.parent, out[0], r.temperature, ctx.max_tokens, _values(ctx, out[0]))
        for r, out in zip(requests, outputs)
    ]


def _values(ctx: Context, c: Completion) -> list[float]:
    return ctx.scorer.token_values(c) if ctx.scorer is not None else []


def _look_ahead(ctx, trees, children, lookahead: int, step_tokens) -> list[tuple[str, list]]:
    """Greedy continuations of the live children, one batched call per lookahead step.

    Returns per child its lookahead text and the trace pieces of its lookahead steps.
    """
    extra = [""] * len(children)
    pieces: list[list[list[float]]] = [[] for _ in children]
    sampling = ctx.scorer.sampling() if ctx.scorer is not None else {}
    used = [c.path_tokens for c in children]
    live = [i for i, c in enumerate(children) if not c.done]
    for _ in range(lookahead):
        if not live:
            break
        prompts = [trees[i].prompt + children[i].prefix + extra[i] for i in live]
        params = [
            SamplingParams(
                n=1,
                temperature=0.0,
                stop=(STEP_DELIMITER,),
                seed=0,
                max_tokens=_budget(ctx, used[i], step_tokens, False),
                **sampling,
            )
            for i in live
        ]
        outputs = ctx.generator.generate(prompts, params)
        _charge_calls((trees[i] for i in live), "generate_calls")
        still = []
        for i, out in zip(live, outputs):
            c = out[0]
            extra[i] += c.text
            pieces[i].append(_values(ctx, c))
            used[i] += c.num_tokens
            children[i].lookahead_tokens += c.num_tokens
            trees[i].charge(c)
            if not is_complete(c.text, c.finish_reason, used[i] >= ctx.max_tokens):
                still.append(i)
        live = still
    return list(zip(extra, pieces))


def _score(ctx: Context, trees, children: list[Node], extra: list[tuple[str, list]]) -> None:
    """One scorer call over every child's prefix (plus lookahead); fills the children's scores."""
    scorer = ctx.scorer
    items = [
        (i, scorer.units(c.prefix + extra[i][0], [*c.trace, *extra[i][1]]))
        for i, c in enumerate(children)
    ]
    items = [(i, units) for i, units in items if units]  # an empty solution: nothing to score
    if not items:
        return
    out = scorer.score([trees[i].problem.problem for i, _ in items], [u for _, u in items])
    _charge_calls((trees[i] for i, _ in items), "prm_calls")
    cached = out.cached_tokens or [0] * len(items)
    for (i, _), scores, tokens, hit in zip(items, out.scores, out.num_tokens, cached):
        c = children[i]
        trees[i].prm_tokens += tokens
        trees[i].prm_cached_tokens += hit
        own = len(scorer.units(c.prefix, c.trace))
        c.step_scores = [float(s) for s in scores[:own]]
        c.step_score = c.step_scores[-1] if c.text.strip() and own else None
        value = aggregate(scores, ctx.agg_strategy)
        c.score = value if math.isfinite(value) else 0.0


def top(nodes: Iterable[Node], k: int) -> list[Node]:
    """The ``k`` best nodes by score; ties go to the earlier node, so results are stable."""
    return sorted(nodes, key=lambda n: (-n.score, n.id))[:k]


def unique(nodes: Iterable[Node]) -> list[Node]:
    """Drop nodes whose whole solution text repeats an earlier one's (``filter_duplicates``)."""
    seen: set[str] = set()
    out = []
    for n in nodes:
        if n.prefix not in seen:
            seen.add(n.prefix)
            out.append(n)
    return out


def chunks(items: Sequence[Any], sizes: Sequence[int]) -> list[list[Any]]:
    """Split a flat batch back into consecutive groups of the given sizes."""
    out, start = [], 0
    for size in sizes:
        out.append(list(items[start : start + size]))
        start += size
    return out


def require_scorer(ctx: Context, approach: str) -> None:
    if ctx.scorer is None:
        raise ValueError(f"approach={approach} needs a scorer; use prm=toy or scorer=deepconf")


class StepOptions(Options):
    """Options every step-level search shares; ``name_part`` adds the non-default ones."""

    step_search: ClassVar[bool] = True

    def changed_part(self) -> str:
        """``--key-value`` for every option that differs from its default, in field order.

        For approaches the anchors do not have (backtracking): a readable name. The run
        identity, not the name, is what keeps runs with other options apart.
        """
        parts = []
        for key, info in type(self).model_fields.items():
            value = getattr(self, key)
            if key == "name" or value == info.default:
                continue
            text = f"{value:g}" if isinstance(value, float) else str(value).lower()
            parts.append(f"--{key}-{text}")
        return "".join(parts)
