"""Diverse verifier tree search (search-and-learn), batched across the problems of a shard.

n is split into ``n / beam_width`` independent subtrees. Each iteration every live subtree
samples ``beam_width`` candidate next steps and follows only the best by PRM (greedy per
subtree); it dies when that step ends the solution (EOS, length, an empty step or a
``\\boxed{}``). The output keeps every subtree's last ``beam_width`` siblings: n completions.

Child c of subtree s is slot ``j = s * beam_width + c``: it takes the schedule's temperature
j and a seed of (problem, j, iteration), so each iteration's n draws map one-to-one onto the
schedule's n slots, as best-of-N's do. Unlike the anchor, the explored tree is stored and
tokens are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ttscale.search import APPROACHES
from ttscale.search.base import Approach, Context
from ttscale.search.beam_search import TreeOptions
from ttscale.search.steps import (
    Node,
    Request,
    Tree,
    chunks,
    expand,
    require_scorer,
    slot_seed,
    top,
    unique,
)
from ttscale.types import Problem, SearchResult


@dataclass
class _Subtree:
    tree: Tree
    index: int
    node: Node | None = None  # the followed path's tip (None: the prompt)
    siblings: list[Node] = field(default_factory=list)  # the last iteration's candidates
    alive: bool = True


@APPROACHES.register("dvts")
class DVTS(Approach):
    """n/beam_width independent greedy subtrees, each choosing among beam_width candidates."""

    class Options(TreeOptions):
        pass

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        require_scorer(ctx, "dvts")
        o = self.options
        m = o.beam_width
        temps = ctx.temperatures(ctx.n)
        trees = [Tree(p, ctx.prompt(p)) for p in problems]
        subtrees = [_Subtree(t, s) for t in trees for s in range(ctx.n // m)]
        for it in range(o.num_iterations):
            alive = [st for st in subtrees if st.alive]
            if not alive:
                break
            requests = [
                Request(st.tree, st.node, temps[j], slot_seed(ctx, st.tree, j, it))
                for st in alive
                for j in range(st.index * m, (st.index + 1) * m)
            ]
            children = expand(
                ctx,
                requests,
                step_tokens=o.step_tokens,
                lookahead=o.lookahead,
                final=it == o.num_iterations - 1,
            )
            for st, kids in zip(alive, chunks(children, [m] * len(alive))):
                best = top(kids, 1)[0]  # a subtree sees only its own candidates
                best.kept = True
                st.node, st.siblings, st.alive = best, kids, not best.done
        results = []
        for t in trees:
            leaves = [c for st in subtrees if st.tree is t for c in st.siblings]
            results.append(t.result(unique(leaves) if o.filter_duplicates else leaves))
        return results
