"""The toy world's PRM data: problems from the training stream, a ProcessBench-format set.

Training problems never overlap the 500-problem test split (:func:`train_stream`); a
ProcessBench-format evaluation set is built from the test split (:func:`processbench_cases`).
"""

from __future__ import annotations

import random

from ttscale.learn.labels import Labelled
from ttscale.toyworld.arith import (
    check_steps,
    expr_of_problem,
    move_of,
    problem_text,
    replay,
    solution_steps,
    step_text,
)
from ttscale.toyworld.problems import test_split, train_stream
from ttscale.types import Problem


def train_problems(count: int, seed: int) -> list[Problem]:
    """``count`` training problems (never a test problem), with their answers."""
    stream = train_stream(seed)
    out = []
    for i in range(count):
        expr, level = next(stream)
        out.append(
            Problem(i, f"arith/train/{seed}/{i}", problem_text(expr), str(expr.value()), level)
        )
    return out


def test_problems(count: int | None = None) -> list[Problem]:
    rows = test_split()[:count]
    return [
        Problem(i, r["unique_id"], r["problem"], r["answer"], r["level"])
        for i, r in enumerate(rows)
    ]


def slip(steps: list[str], rng: random.Random) -> list[str]:
    """One realistic slip: a digit of one step off by one (the policy's commonest error)."""
    out = list(steps)
    k = rng.randrange(len(out))
    digits = [i for i, c in enumerate(out[k]) if c.isdigit()]
    if digits:
        i = rng.choice(digits)
        out[k] = out[k][:i] + str((int(out[k][i]) + rng.choice((-1, 1))) % 10) + out[k][i + 1 :]
    return out


def synthetic(problems: list[Problem], share_bad: float, seed: int) -> list[Labelled]:
    """A valid solution per problem in a random legal order, a slip in ``share_bad`` of them
    (evenly spread), labelled by the exact checker."""
    rng = random.Random(seed)
    out = []
    for i, p in enumerate(problems):
        steps = solution_steps(expr_of_problem(p.problem), rng)
        if int((i + 1) * share_bad) > int(i * share_bad):
            steps = slip(steps, rng)
        out.append(Labelled(p.problem, steps, check_steps(p.problem, steps), f"{p.unique_id}/s"))
    return out


def twins(records: list[Labelled], seed: int) -> list[Labelled]:
    """Each wrong sample's corrected twin: its steps up to the first wrong one, that step put
    right (the same pair combined exactly, or a legal move where it named none), then a valid
    finish in a random legal order.

    A twin pairs each real error with the same context done right, so that how hard a
    problem looks tells the verifier nothing: only the step itself does.
    """
    rng = random.Random(seed)
    out = []
    for r in records:
        k = r.earliest_error
        if k < 0:
            continue
        expr = replay(r.problem, r.steps[:k])
        if expr is None:  # a labelling that disagrees with the checker: not a toy record
            continue
        i = move_of(expr, r.steps[k]) if expr.ops else None
        head = r.steps[:k]
        if i is not None:
            text, expr = step_text(expr, i)
            head = head + [text]
        steps = head + solution_steps(expr, rng)
        out.append(Labelled(r.problem, steps, check_steps(r.problem, steps), f"{r.id}/twin"))
    return out


def processbench_cases(count: int, seed: int = 0) -> list[dict]:
    """ProcessBench-format cases from the test split: half with one slip, half correct."""
    problems = test_problems(count)
    return [r.to_processbench("toy-world") for r in synthetic(problems, 0.5, seed)]
