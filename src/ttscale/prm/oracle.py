"""The toy world's exact step checker as a PRM, with configurable noise.

It separates a search algorithm from PRM quality: with ``noise=0`` every score is exactly
right, so any loss comes from the search. Noise is seeded by the step prefix, so the same
prefix always gets the same score.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ttscale.prm import FromConfig
from ttscale.toyworld.arith import check_steps
from ttscale.types import PRMOutput, derive_seed


class OraclePRM(FromConfig):
    """Score = 1 for a correct step, 0 otherwise, plus Gaussian noise of std ``noise``, clipped."""

    def __init__(self, *, noise: float = 0.0, seed: int = 0, batch_size: int = 0) -> None:
        if noise < 0:
            raise ValueError(f"prm.noise must be >= 0, got {noise}")
        self.noise = noise
        self.seed = seed

    def score(self, questions: Sequence[str], steps: Sequence[Sequence[str]]) -> PRMOutput:
        scores = []
        for q, s in zip(questions, steps):
            try:
                labels = check_steps(q, list(s))
            except ValueError:
                labels = [False] * len(s)
            row = []
            for k, ok in enumerate(labels):
                value = float(ok)
                if self.noise:
                    rng = random.Random(derive_seed(self.seed, q, *s[: k + 1]))
                    value = min(1.0, max(0.0, value + rng.gauss(0.0, self.noise)))
                row.append(value)
            scores.append(row)
        # The checker reads characters; count them as its "tokens" for compute accounting.
        tokens = [len(q) + sum(len(x) for x in s) for q, s in zip(questions, steps)]
        return PRMOutput(scores, tokens)
