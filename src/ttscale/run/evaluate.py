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
from collections.abc import Sequence
from typing import Any

from ttscale.compute import flops
from ttscale.grading import Grader, extract_answer
from ttscale.grading.plurality import plurality
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
    keep: float | None = None,
    pick: str = "naive",
    parameters: tuple[int | None, int | None] = (None, None),
) -> tuple[list[dict[str, Any]], dict[str, float], list[dict[str, float]]]:
    """Return (rows, overall metrics, per-problem metrics).

    ``keep``: a confidence scorer's share for the ``filtered@n`` vote (DeepConf offline);
    ``pick``: how a scored row's answer (``pred``, ``is_correct``) is chosen, ``naive`` (the
    best score), ``weighted`` (a score-weighted vote) or ``filtered`` (that vote over the top
    ``keep`` share).
    """
    answers = [[extract_answer(c) for c in r.completions] for r in results]
    all_labels, all_correct = grader.grade_and_cluster([p.answer for p in problems], answers)
    rows, per_problem = [], []
    for p, r, ans, labels, correct in zip(problems, results, answers, all_labels, all_correct):
        has_scores = r.prm_calls > 0 or any(r.scores)
        scores = step_scores(r.scores, has_scores)
        agg = [agg_steps(s, agg_strategy) for s in scores] if has_scores else [math.nan] * len(ans)
        method = pick if has_scores else "maj"
        rows.append(_row(p, r, ans, labels, correct, scores, agg, method, seed, keep or 1.0))
        rows[-1] |= compute_columns(r, parameters)
        per_problem.append(row_metrics(rows[-1], draws=draws, subset_mode=subset_mode, keep=keep))
    return rows, aggregate(per_problem, missing="partial"), per_problem


# A completion with no steps (an empty text) gets this one step score from a PRM run: an
# empty solution is never right, so it ranks last and adds nothing to a weighted vote.
EMPTY_STEP_SCORE = 0.0
# A run without a PRM writes this one step score per completion, so tools that require
# scores (search-and-learn's score()) run: equal scores make naive@n the first completion
# and weighted@n the majority vote. ``agg_scores`` stays NaN: no PRM ran.
NO_PRM_STEP_SCORE = 1.0


def step_scores(scores: Sequence[Sequence[float]], has_scores: bool) -> list[list[float]]:
    """The ``scores`` column: never an empty step-score list (see the constants above)."""
    fill = EMPTY_STEP_SCORE if has_scores else NO_PRM_STEP_SCORE
    return [list(s) if s else [fill] for s in scores]


def has_prm_scores(row: dict[str, Any]) -> bool:
    """Whether a stored row's ``agg_scores`` come from a PRM (NaN: none ran)."""
    return any(not math.isnan(a) for a in row.get("agg_scores") or [])


def row_metrics(
    row: dict[str, Any], *, draws: int = 100, subset_mode: str = "random", keep: float | None = None
) -> dict[str, float]:
    """One output row's metrics, from its stored columns (and the scorer's ``keep``).

    The merge of a sharded run uses it too, so merged metrics equal an unsharded run's.
    """
    has_scores = has_prm_scores(row)
    methods = ("naive", "weighted", "maj") if has_scores else ("maj",)
    if has_scores and keep is not None:
        methods += ("filtered",)
    m = problem_metrics(
        row["answer_labels"],
        row["correct"],
        row["agg_scores"] if has_scores else None,
        draws=draws,
        seed=row["seed"],
        key=row["unique_id"],
        mode=subset_mode,
        methods=methods,
        keep=keep or 1.0,
    )
    if "is_correct" in row:  # the approach's own answer
        m["accuracy"] = float(row["is_correct"])
    m["samples"] = float(len(row["answer_labels"]))
    m["tokens"] = float(row["generated_tokens"])
    m["prm_tokens"] = float(row["prm_tokens"])
    for key in ("prompt_tokens", "flops"):  # rows written before FLOPs were counted lack them
        if key in row and math.isfinite(row[key]):
            m[key] = float(row[key])
    return m


def _choose(ans, labels, agg, idx: Sequence[int], method: str, keep: float = 1.0) -> int | None:
    """Index of the completion the method picks among ``idx`` (prefix semantics), or None.

    Ties go to the first completion (naive) or the first answer group (maj, weighted), as in
    search-and-learn's ``pred_*`` columns. ``filtered``: the weighted vote of the top
    ``ceil(keep * len(idx))`` by score (DeepConf offline).
    """
    if method == "naive":
        return max(idx, key=lambda i: agg[i]) if idx else None
    if method == "filtered":
        top = sorted(idx, key=lambda i: -agg[i])[: max(1, math.ceil(keep * len(idx) - 1e-9))]
        return _choose(ans, labels, agg, sorted(top), "weighted")
    keys = [labels[i] if labels[i] >= 0 else None for i in idx]
    weights = None if method == "maj" else [agg[i] for i in idx]
    winner, _ = plurality(keys, weights)
    return None if winner is None else next(i for i in idx if labels[i] == winner)


def compute_columns(r: SearchResult, parameters: tuple[int | None, int | None]) -> dict:
    """Per model, the tokens computed and cached, and FLOPs = 2 x parameters x computed."""
    policy = flops(parameters[0], r.generated_tokens + r.prompt_tokens)
    prm = flops(parameters[1], r.prm_tokens)
    return {
        "prompt_tokens": r.prompt_tokens,
        "cached_tokens": r.cached_tokens,
        "prm_cached_tokens": r.prm_cached_tokens,
        "policy_flops": policy,
        "prm_flops": prm,
        "flops": policy + prm,
    }


def _boxed(ans: str | None) -> str:
    return f"\\boxed{{{ans}}}" if ans is not None else ""


def _row(p: Problem, r: SearchResult, ans, labels, correct, scores, agg, pick: str, seed: int,
         keep: float):  # fmt: skip
    N = len(r.completions)
    has_scores = pick != "maj"
    methods = ("naive", "weighted", "maj") if has_scores else ("maj",)
    preds: dict[str, str] = {}
    for n in powers_of_two(N):
        for method in methods:
            i = _choose(ans, labels, agg, list(range(n)), method)
            preds[f"pred_{method}@{n}"] = _boxed(ans[i]) if i is not None else ""
    best = _choose(ans, labels, agg, list(range(N)), pick, keep)
    row = {
        "index": p.index,
        "unique_id": p.unique_id,
        "problem": p.problem,
        "answer": p.answer,
        "level": p.level,
        "completions": r.completions,
        "scores": scores,
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
    # The source row's other columns, as search-and-learn keeps them; a name ttscale uses
    # itself is kept as source_{name}.
    row.update({(f"source_{k}" if k in row else k): v for k, v in p.extra.items()})
    return row
