"""The scorer seam: what ranks, weights or prunes a search's candidates.

A scorer turns candidates into one score per *unit*: a PRM scores the text's steps; a
confidence scorer scores the trace's token log-probabilities, one unit per generated piece
(a whole solution, or one step of a step search), each unit's score covering the trace up to
its end. Searches see only this protocol, so any search takes any scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ttscale.types import Completion, PRMOutput

# A trace: per generated piece (a whole solution, or one step), one value per token.
Trace = Sequence[Sequence[float]]


@runtime_checkable
class Scorer(Protocol):
    """Scores candidates: one value per unit, higher is better (``name``: ``scorer=<name>``)."""

    name: str

    def sampling(self) -> dict[str, Any]:
        """Extra :class:`~ttscale.types.SamplingParams` fields the scorer needs (log-probs)."""
        ...

    def token_values(self, completion: Completion) -> list[float]:
        """What the scorer keeps per generated token of ``completion`` (nothing for a PRM)."""
        ...

    def units(self, text: str, trace: Trace) -> list[Any]:
        """The units of a candidate (its text and its trace) that get one score each."""
        ...

    def score(self, questions: Sequence[str], units: Sequence[Sequence[Any]]) -> PRMOutput:
        """One score per unit of every candidate; ``num_tokens``: tokens a model read."""
        ...
