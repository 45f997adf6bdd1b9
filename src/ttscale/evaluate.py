"""Grade a shard's results, build its output rows, and compute its metrics.

Columns keep search-and-learn's names (``problem, answer, completions, scores, pred,
completion_tokens, pred_{naive,weighted,maj}@n``) so tools built for it read ours. The
``pred_*@n`` columns are computed on the prefix ``completions[:n]`` exactly as the anchor
does; the *metrics* use random subsets (see :mod:`ttscale.metrics`), which are unbiased when
temperatures come in blocks.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ttscale.grading import Grader, extract_answer
from ttscale.metrics import aggregate, powers_of_two, problem_metrics
from ttscale.prm.aggregate import aggregate as agg_steps
from ttscale.types import Problem, SearchResult


def evaluate(
    problems: Sequence[Problem],
    results: Sequence[SearchResult],
    *,
    agg_strategy: str,
    seed: int,
    grader: Grader,
    subset_mode: str = "random",
    draws: int = 100,
) -> tuple[list[dict[str, Any]], dict[str, float], list[dict[str, float]]]:
    """Return (rows, overall metrics, per-problem metrics)."""
    answers = [[extract_answer(c) for c in r.completions] for r in results]
    flat_gold = [p.answer for p, a in zip(problems, answers) for _ in a]
    flat_ans = [x for a in answers for x in a]
    flat_ok = grader.grade(flat_gold, flat_ans)
    rows, per_problem = [], []
    k = 0
    for p, r, ans in zip(problems, results, answers):
        correct = flat_ok[k : k + len(ans)]
        k += len(ans)
        labels = grader.cluster(ans)
        has_scores = any(r.scores)
        agg = (
            [agg_steps(s, agg_strategy) for s in r.scores] if has_scores else [math.nan] * len(ans)
        )
        rows.append(_row(p, r, ans, labels, correct, agg, has_scores, seed))
        per_problem.append(row_metrics(rows[-1], draws=draws, subset_mode=subset_mode))
    return rows, aggregate(per_problem, missing="drop"), per_problem


def row_metrics(
    row: dict[str, Any], *, draws: int = 100, subset_mode: str = "random"
) -> dict[str, float]:
    """One output row's metrics, from its stored columns alone.

    The merge of a sharded run uses it too, so merged metrics equal an unsharded run's.
    """
    has_scores = any(row["scores"])
    m = problem_metrics(
        row["answer_labels"],
        row["correct"],
        row["agg_scores"] if has_scores else None,
        draws=draws,
        seed=row["seed"],
        key=row["unique_id"],
        mode=subset_mode,
        methods=("naive", "weighted", "maj") if has_scores else ("maj",),
    )
    m["tokens"] = float(row["generated_tokens"])
    m["prm_tokens"] = float(row["prm_tokens"])
    return m


def _choose(ans, labels, agg, idx: Sequence[int], method: str) -> int | None:
    """Index of the completion the method picks among ``idx`` (prefix semantics), or None."""
    voting = [i for i in idx if labels[i] >= 0]
    if method == "naive":
        return max(idx, key=lambda i: agg[i]) if idx else None
    if not voting:
        return None
    if method == "maj":
        counts = Counter(labels[i] for i in voting)
        best = max(counts.values())
        winner = next(labels[i] for i in voting if counts[labels[i]] == best)
    else:
        sums: dict[int, float] = {}
        for i in voting:
            sums[labels[i]] = sums.get(labels[i], 0.0) + agg[i]
        winner = max(sums, key=lambda lbl: sums[lbl])
    return next(i for i in voting if labels[i] == winner)


def _boxed(ans: str | None) -> str:
    return f"\\boxed{{{ans}}}" if ans is not None else ""


def _row(p: Problem, r: SearchResult, ans, labels, correct, agg, has_scores: bool, seed: int):
    N = len(r.completions)
    methods = ("naive", "weighted", "maj") if has_scores else ("maj",)
    preds: dict[str, str] = {}
    for n in powers_of_two(N):
        for method in methods:
            i = _choose(ans, labels, agg, list(range(n)), method)
            preds[f"pred_{method}@{n}"] = _boxed(ans[i]) if i is not None else ""
    best = _choose(ans, labels, agg, list(range(N)), "naive" if has_scores else "maj")
    return {
        "index": p.index,
        "unique_id": p.unique_id,
        "problem": p.problem,
        "answer": p.answer,
        "level": p.level,
        "completions": r.completions,
        "scores": r.scores,
        "pred": r.completions[best] if best is not None else "",
        "completion_tokens": r.completion_tokens,
        **preds,
        "temperatures": r.temperatures,
        "answers": [a or "" for a in ans],
        "answer_labels": labels,
        "correct": list(map(bool, correct)),
        "agg_scores": agg,
        "is_correct": bool(correct[best]) if best is not None else False,
        "seed": seed,
        "generated_tokens": r.generated_tokens,
        "prm_tokens": r.prm_tokens,
        "generate_calls": r.generate_calls,
        "prm_calls": r.prm_calls,
        "counters": json.dumps(r.counters),
        "tree": json.dumps(r.tree),
    }
