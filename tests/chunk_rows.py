"""Synthetic result rows for merge/store tests: the columns a merge reads, no model needed."""

from __future__ import annotations

from typing import Any

from ttscale.config import ShardConfig
from ttscale.identity import fingerprint, identity
from ttscale.run.pipeline import select_problems
from ttscale.sweep import RunPlan, plan_runs
from ttscale.sweep.hydra import compose_sweep
from ttscale.types import Problem


def plan_for(results_dir: Any, *overrides: str) -> RunPlan:
    """The one run that ``overrides`` (run.py style, no sweeps) describe."""
    (plan,) = plan_runs(compose_sweep([f"storage.results_dir={results_dir}", *overrides]))
    return plan


def problems_of(plan: RunPlan) -> list[Problem]:
    """Every problem of the run, in dataset order."""
    return select_problems(plan.cfg.model_copy(update={"shard": ShardConfig()}))[0]


def fake_rows(problems: list[Problem], seed: int = 0) -> list[dict[str, Any]]:
    """Two completions per problem; which are right varies with the row, so metrics vary."""
    rows = []
    for p in problems:
        k = p.index % 3
        labels, correct = ([0, 0], [True, True]) if k == 0 else ([0, 1], [k == 1, False])
        rows.append(
            {
                "index": p.index,
                "unique_id": p.unique_id,
                "problem": p.problem,
                "answer": p.answer,
                "completions": [f"a{p.index}", f"b{p.index}"],
                "scores": [[0.9], [0.2 + 0.3 * k]],
                "answer_labels": labels,
                "correct": correct,
                "agg_scores": [0.9, 0.2 + 0.3 * k],
                "seed": seed,
                "generated_tokens": 10 + p.index,
                "prm_tokens": 5,
            }
        )
    return rows


def write_chunks(store: Any, plan: RunPlan, *, skip: tuple[int, ...] = ()) -> None:
    """Write every non-empty shard of ``plan`` except the shard indices in ``skip``."""
    by_index = {p.index: p for p in problems_of(plan)}
    for i, (s, e) in enumerate(plan.chunks):
        if e > s and i not in skip:
            rows = fake_rows([by_index[j] for j in range(s, e)], seed=plan.cfg.seed)
            store.write_chunk(plan.name, s, e, rows, summary_of(plan) | {"chunk": i})


def summary_of(plan: RunPlan) -> dict[str, Any]:
    """The identity part of a chunk summary, as the pipeline writes it for ``plan``."""
    ident = identity(plan.cfg)
    return {"run": plan.name, "fingerprint": fingerprint(ident), "identity": ident}
