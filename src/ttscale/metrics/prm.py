"""How good a PRM is: ProcessBench's F1, step AUC, and ranking within a problem.

ProcessBench (arXiv 2412.06559) labels each case with the index of its earliest wrong step
(-1: none). A PRM predicts that index as the first step scored below a threshold; the
metric is the harmonic mean (F1) of the accuracy on erroneous cases (exact index) and on
correct ones (predicted -1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ttscale.metrics.counting import auc

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 .. 0.95


def predicted_error(scores: Sequence[float], threshold: float) -> int:
    """The first step scored below ``threshold``, or -1."""
    return next((i for i, s in enumerate(scores) if s < threshold), -1)


def processbench(
    labels: Sequence[int], step_scores: Sequence[Sequence[float]], threshold: float = 0.5
) -> dict[str, float]:
    """ProcessBench's metric at one threshold.

    Returns:
        ``error_acc`` and ``correct_acc`` (NaN when a class is absent), their harmonic mean
        ``f1`` (0 when either is 0, NaN when a class is absent), and the class sizes.
    """
    if len(labels) != len(step_scores):
        raise ValueError(f"{len(labels)} labels but {len(step_scores)} score lists")
    hits = {True: [], False: []}  # erroneous -> exact index found; correct -> -1 predicted
    for label, scores in zip(labels, step_scores):
        if not -1 <= label < max(len(scores), 1):
            raise ValueError(f"label {label} is outside the case's {len(scores)} steps")
        hits[label != -1].append(predicted_error(scores, threshold) == label)
    err = float(np.mean(hits[True])) if hits[True] else float("nan")
    cor = float(np.mean(hits[False])) if hits[False] else float("nan")
    if math.isnan(err) or math.isnan(cor):
        f1 = math.nan
    else:
        f1 = 2 * err * cor / (err + cor) if err + cor > 0 else 0.0
    return {"error_acc": err, "correct_acc": cor, "f1": f1,
            "n_error": len(hits[True]), "n_correct": len(hits[False])}  # fmt: skip


def threshold_sweep(
    labels: Sequence[int],
    step_scores: Sequence[Sequence[float]],
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[dict[str, float]]:
    """:func:`processbench` at every threshold, each row with its ``threshold``."""
    return [{"threshold": t, **processbench(labels, step_scores, t)} for t in thresholds]


def step_auc(labels: Sequence[int], step_scores: Sequence[Sequence[float]]) -> float:
    """AUC of step scores: steps before the earliest error are good, the error step bad.

    Steps after the earliest error carry no label in ProcessBench and are left out.
    """
    scores, good = [], []
    for label, s in zip(labels, step_scores):
        last = len(s) - 1 if label == -1 else label
        for i in range(last + 1):
            scores.append(s[i])
            good.append(label == -1 or i < label)
    return auc(scores, good)


def within_problem_auc(
    groups: Sequence[tuple[Sequence[float], Sequence[bool]]],
) -> tuple[float, int]:
    """Mean over problems of the AUC that ranks a problem's correct samples above its wrong
    ones (ties count half); only problems with both kinds count.

    Returns:
        (mean AUC, number of problems that counted); NaN when none did.
    """
    values = [auc(list(s), list(c)) for s, c in groups if any(c) and not all(c)]
    return (float(np.mean(values)) if values else float("nan")), len(values)
