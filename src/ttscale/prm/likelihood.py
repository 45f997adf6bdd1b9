"""A verifier LM's likelihood of the solution so far, as a PRM (the embedded world's verifier).

The input is the math-shepherd one (:func:`~ttscale.prm.math_shepherd.format_input`: a step
tag after each step). Step k's score is ``sigmoid(scale * L_k + bias)``, where ``L_k`` is
the log-likelihood the model gives the answer's tokens up to step k's tag (the separators
after tags left out: they say nothing about the steps). The score is cumulative, like a
Math-Shepherd label: a step after a wrong one cannot lead to the gold answer, so its score
falls too, and ``agg_strategy=last`` ranks whole solutions by their likelihood.

``scale`` and ``bias`` are a logistic fit of the step labels on ``L_k``, which
``learn.py prm_format=likelihood`` writes into the model's ``config.json``
(``ttscale_likelihood``); a model without them reads with scale 1 and bias 0, which ranks
the same but is not calibrated (ProcessBench's threshold of 0.5 then means nothing).
Why a likelihood and not a +/- head: docs/results.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ttscale.prm.base import Encoded, TokenPRM
from ttscale.prm.math_shepherd import format_input

CONFIG_KEY = "ttscale_likelihood"


class LikelihoodPRM(TokenPRM):
    """Scores steps by a causal LM's cumulative log-likelihood, calibrated (module docstring).

    Options: ``step_tag`` ("ки"); the rest as :class:`TokenPRM`. ``raw=True`` (not a config
    key) returns ``L_k`` itself, for the calibration fit.
    """

    reads_previous = True

    def __init__(self, model_path: str, *, raw: bool = False, **kwargs: Any) -> None:
        super().__init__(model_path, **kwargs)
        fit = getattr(self.model.config, CONFIG_KEY, None) or {}
        self.scale = float(fit.get("scale", 1.0))
        self.bias = float(fit.get("bias", 0.0))
        self.raw = raw
        self._question_lengths: dict[str, int] = {}

    def setup(self, step_tag: str = "ки") -> None:
        self.reference_only("likelihood")
        self.step_tag = step_tag
        self.tag_id = self.token_id(step_tag, "step_tag")

    def _question_tokens(self, question: str) -> int:
        """Tokens of ``question + " "``; memoised: a search scores one question's answers
        again at every step."""
        seen = self._question_lengths
        if question not in seen:
            if len(seen) >= 4096:
                seen.clear()
            seen[question] = len(self.tokenizer(question + " ", add_special_tokens=False).input_ids)
        return seen[question]

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        ids = self.tokenizer(format_input(question, steps, self.step_tag),
                             add_special_tokens=False).input_ids  # fmt: skip
        start = self._question_tokens(question)
        positions = [p for p, t in enumerate(ids) if t == self.tag_id]
        if len(positions) != len(steps) or any(p < start for p in positions):
            raise ValueError(
                f"PRM: {len(steps)} steps but {len(positions)} step tags in the answer; the "
                f"question contains the tag {self.step_tag!r} or it merged with a neighbour"
            )
        return Encoded(ids, positions, start)

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        """Each token's log-likelihood given the tokens before it (0 for the first read)."""
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward).logits
        logp = logits[:, :-1].float().log_softmax(-1)
        values = torch.zeros(input_ids.shape, dtype=torch.float32, device=logits.device)
        values[:, 1:] = logp.gather(-1, input_ids[:, 1:, None])[..., 0]
        return values

    def step_scores(self, values: torch.Tensor, item: Encoded) -> list[float]:
        ids = torch.tensor(item.ids)
        counted = torch.ones(len(ids), dtype=torch.bool)
        counted[: item.start] = False  # the question: the same for every sample
        counted[1:] &= ids[:-1] != self.tag_id  # the separator after a tag
        running = torch.cumsum(torch.where(counted, values.double(), 0.0), 0)
        totals = running[item.positions]
        if self.raw:
            return totals.tolist()
        return torch.sigmoid(self.scale * totals + self.bias).tolist()
