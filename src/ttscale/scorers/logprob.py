"""Scorers that read the trace's own log-probabilities: no verifier model, no extra tokens.

- ``mean_logprob``: the per-token geometric-mean probability, ``exp(mean log p(token))``, in
  (0, 1] (the policy's own likelihood of what it wrote, length-normalised);
- ``self_certainty``: the mean ``KL(U || p)`` over the trace's tokens (arXiv 2502.18581);
- ``deepconf``: DeepConf's trace confidence (arXiv 2508.15260) by one of its measures.

A unit's score covers the trace from its start to the unit's end, so in a step search the
last step's score is the whole prefix's, as a PRM's is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ttscale.scorers.base import Trace
from ttscale.scorers.confidence import (
    token_confidence,
    token_self_certainty,
    trace_confidence,
)
from ttscale.types import Completion, PRMOutput


class LogprobScorer:
    """Base: per-token values from a completion, prefix scores from them."""

    name = ""
    top_k = 0  # top log-probabilities per token it needs (0: the drawn token's only)

    def sampling(self) -> dict[str, Any]:
        return {"logprobs": True, "top_logprobs": self.top_k}

    def token_values(self, completion: Completion) -> list[float]:
        raise NotImplementedError

    def reduce(self, values: Sequence[float]) -> float:
        raise NotImplementedError

    def units(self, text: str, trace: Trace) -> list[Sequence[float]]:
        return list(trace)

    def score(self, questions: Sequence[str], units: Sequence[Sequence[Any]]) -> PRMOutput:
        scores = []
        for pieces in units:
            flat: list[float] = []
            own = []
            for piece in pieces:
                flat.extend(piece)
                own.append(self.reduce(flat))
            scores.append(own)
        return PRMOutput(scores, [0] * len(units))

    @staticmethod
    def _top(completion: Completion) -> tuple[tuple[float, ...], ...]:
        if completion.top_logprobs is None:
            raise ValueError("the generator returned no top log-probabilities for a scorer")
        return completion.top_logprobs


class MeanLogprob(LogprobScorer):
    name = "mean_logprob"

    @classmethod
    def from_config(cls, cfg: Any) -> MeanLogprob:
        return cls()

    def sampling(self) -> dict[str, Any]:
        return {"logprobs": True}

    def token_values(self, completion: Completion) -> list[float]:
        if completion.logprobs is None:
            raise ValueError("the generator returned no log-probabilities for scorer=mean_logprob")
        return list(completion.logprobs)

    def reduce(self, values: Sequence[float]) -> float:
        return math.exp(sum(values) / len(values)) if values else math.nan


class SelfCertainty(LogprobScorer):
    name = "self_certainty"

    def __init__(self, top_k: int = 20) -> None:
        self.top_k = top_k

    @classmethod
    def from_config(cls, cfg: Any) -> SelfCertainty:
        return cls(cfg.top_k)

    def token_values(self, completion: Completion) -> list[float]:
        return [token_self_certainty(top) for top in self._top(completion)]

    def reduce(self, values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else math.nan


class DeepConf(LogprobScorer):
    name = "deepconf"

    def __init__(
        self,
        top_k: int = 20,
        measure: str = "lowest_group",
        window: int = 2048,
        bottom: float = 0.1,
        tail: int = 2048,
    ) -> None:
        self.top_k, self.measure = top_k, measure
        self.window, self.bottom, self.tail = window, bottom, tail

    @classmethod
    def from_config(cls, cfg: Any) -> DeepConf:
        return cls(cfg.top_k, cfg.measure, cfg.window, cfg.bottom, cfg.tail)

    def token_values(self, completion: Completion) -> list[float]:
        return [token_confidence(top) for top in self._top(completion)]

    def reduce(self, values: Sequence[float]) -> float:
        return trace_confidence(
            values, self.measure, window=self.window, bottom=self.bottom, tail=self.tail
        )
