"""The toy world's search context as the pipeline builds it, for the bench scripts."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICY = str(ROOT / "models" / "toy-policy")
PRM = str(ROOT / "models" / "toy-prm")


def toy_context(n: int, *, policy: str = POLICY, prm: str = PRM, max_tokens: int = 256,
                batch_size: int = 128, prm_batch_size: int = 64, cache_mb: int = 0):  # fmt: skip
    """A search Context: the hf backend and the toy PRM (``prm=toy``'s family, or ``prm="oracle"``) at the
    conf batch sizes, T=0.8, seed 0, both prefix caches at ``cache_mb`` MiB (0: off)."""
    from ttscale.backends.hf import HFGenerator
    from ttscale.prompts import build_prompt
    from ttscale.scorers import PRMScorer
    from ttscale.search.base import Context

    gen = HFGenerator(policy, batch_size=batch_size, progress=False, prefix_cache_mb=cache_mb)
    if prm == "oracle":
        from ttscale.prm.oracle import OraclePRM

        reader = OraclePRM()
    else:
        from ttscale.prm.likelihood import LikelihoodPRM

        reader = LikelihoodPRM(prm, batch_size=prm_batch_size, prefix_cache_mb=cache_mb)
    return Context(
        generator=gen,
        scorer=PRMScorer(reader),
        prompt=lambda p: build_prompt(gen.tokenizer, p.problem, None),
        n=n,
        temperatures=lambda k: [0.8] * k,
        top_p=1.0,
        max_tokens=max_tokens,
        seed=0,
        agg_strategy="last",
    )


def toy_problems(count: int):
    """The first ``count`` problems of the toy test split (its rows cycle through the levels)."""
    from ttscale.data import to_problems
    from ttscale.toyworld.problems import test_split

    return to_problems(list(test_split())[:count])
