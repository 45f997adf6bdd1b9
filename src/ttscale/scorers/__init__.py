"""Scorers: a PRM or the trace's own confidence, behind one protocol (``scorer=<name>``).

``build_scorer(run, prm)`` gives the run's scorer, or None for ``scorer=none`` (and for
``scorer=prm`` with ``prm=none``, the short form of no scorer).
"""

from __future__ import annotations

from typing import Any

from ttscale.registry import Registry
from ttscale.scorers.base import Scorer, Trace
from ttscale.scorers.prm import PRMScorer

SCORERS: Registry[Scorer] = Registry("scorer")
SCORERS.add("mean_logprob", "ttscale.scorers.logprob:MeanLogprob")
SCORERS.add("self_certainty", "ttscale.scorers.logprob:SelfCertainty")
SCORERS.add("deepconf", "ttscale.scorers.logprob:DeepConf")

__all__ = ["SCORERS", "PRMScorer", "Scorer", "Trace", "build_scorer"]


def build_scorer(cfg: Any, prm: Any) -> Scorer | None:
    """The scorer of a validated ``ScorerConfig``; ``prm`` is the built PRM (or None)."""
    if cfg.name == "none":
        return None
    if cfg.name == "prm":
        return PRMScorer(prm) if prm is not None else None
    return SCORERS.from_config(cfg.name, cfg)
