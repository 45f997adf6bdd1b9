"""Deterministic problem sets: a fixed 500-problem test split and a disjoint training stream."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache

from ttscale.toyworld.arith import Expr, problem_text, random_expr, solution_text

TEST_SEED = 20240501
TEST_PER_LEVEL = 100
LEVELS = (1, 2, 3, 4, 5)


def _row(expr: Expr, level: int, uid: str) -> dict:
    return {
        "problem": problem_text(expr),
        "solution": solution_text(expr),
        "answer": str(expr.value()),
        "subject": "arithmetic",
        "level": level,
        "unique_id": uid,
    }


@lru_cache(maxsize=1)
def test_split() -> tuple[dict, ...]:
    """The 500-problem test split (100 per level), identical on every machine.

    Rows cycle through the levels (1, 2, 3, 4, 5, 1, ...), so any prefix such as
    ``dataset.num_samples=100`` is balanced across difficulty.
    """
    rng = random.Random(TEST_SEED)
    by_level, seen = {}, set()
    for level in LEVELS:
        rows = by_level[level] = []
        while len(rows) < TEST_PER_LEVEL:
            expr = random_expr(rng, level)
            if str(expr) in seen:
                continue
            seen.add(str(expr))
            rows.append(_row(expr, level, f"arith/test/L{level}/{len(rows):03d}"))
    return tuple(by_level[lvl][k] for k in range(TEST_PER_LEVEL) for lvl in LEVELS)


def test_texts() -> frozenset[str]:
    return frozenset(r["problem"] for r in test_split())


def train_stream(seed: int, levels: tuple[int, ...] = LEVELS) -> Iterator[tuple[Expr, int]]:
    """An endless stream of (expression, level) that never yields a test problem."""
    rng = random.Random(seed)
    held_out = test_texts()
    while True:
        level = rng.choice(levels)
        expr = random_expr(rng, level)
        if problem_text(expr) not in held_out:
            yield expr, level
