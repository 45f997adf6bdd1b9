"""``scorer=prm``: a process reward model reads the question and the solution's steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ttscale.prm import prm_steps
from ttscale.scorers.base import Trace
from ttscale.types import PRM, Completion, PRMOutput


class PRMScorer:
    """Any PRM family as a scorer; the units are the PRM's own steps of the text."""

    name = "prm"

    def __init__(self, prm: PRM) -> None:
        self.prm = prm

    def sampling(self) -> dict[str, Any]:
        return {}

    def token_values(self, completion: Completion) -> list[float]:
        return []

    def units(self, text: str, trace: Trace) -> list[str]:
        return prm_steps(self.prm, text)

    def score(self, questions: Sequence[str], units: Sequence[Sequence[Any]]) -> PRMOutput:
        return self.prm.score(questions, [list(u) for u in units])
