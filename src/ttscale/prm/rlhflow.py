"""RLHFlow/Llama3.1-8B-PRM-Deepseek-Data: a chat model that answers "+" or "-" after each step.

The conversation alternates user and assistant turns: the first user turn is
``question + " " + step_1``, each later one ``step_k``, and every assistant turn is ``"+"``.
The score of step k is P("+") from a softmax over the "+" and "-" logits at the position
just before step k's assistant "+" (where the model predicts it). The PRM's own chat template
renders the conversation, exactly as its reference code does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ttscale.prm.base import Encoded, TokenPRM, pair_probability

# Stands in for each assistant "+" while rendering, to find those characters afterwards.
_MARK = "\x00"


class RLHFlowPRM(TokenPRM):
    """Options: ``good_token`` ("+"), ``bad_token`` ("-"); the rest as ``TokenPRM``."""

    def setup(self, good_token: str = "+", bad_token: str = "-") -> None:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError("prm.path: this PRM's tokenizer has no chat template")
        self.good_token = good_token
        self.good_id = self.token_id(good_token, "good_token")
        self.bad_id = self.token_id(bad_token, "bad_token")

    def sal_steps(self, text: str) -> list[str]:
        """``text.split("\\n\\n")``: blank-line runs and a trailing ``\\n\\n`` give empty turns."""
        return text.split("\n\n")

    def conversation(self, question: str, steps: Sequence[str], answer: str) -> list[dict]:
        """The chat: user turns carry the steps, every assistant turn is ``answer``."""
        turns: list[dict] = []
        for k, step in enumerate(steps):
            text = f"{question} {step}" if k == 0 else step
            turns.append({"role": "user", "content": text.replace(_MARK, "")})
            turns.append({"role": "assistant", "content": answer})
        return turns

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        rendered = self.tokenizer.apply_chat_template(
            self.conversation(question, steps, _MARK), tokenize=False
        )
        pieces = rendered.split(_MARK)
        if len(pieces) != len(steps) + 1:
            raise ValueError("prm.path: the PRM's chat template dropped assistant turns")
        text = self.good_token.join(pieces)
        starts, at = [], 0
        for piece in pieces[:-1]:
            at += len(piece)
            starts.append(at)
            at += len(self.good_token)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        by_start = {span[0]: p for p, span in enumerate(enc["offset_mapping"]) if span[1] > span[0]}
        positions = []
        for k, c in enumerate(starts):
            p = by_start.get(c)
            if p is None or enc["input_ids"][p] != self.good_id or p == 0:
                raise ValueError(
                    f"PRM: the assistant {self.good_token!r} of step {k} is not a token of its "
                    "own in this PRM's chat format (prm.good_token)"
                )
            positions.append(p - 1)  # the logits that predict the "+"
        return Encoded(list(enc["input_ids"]), positions)

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward).logits
        return pair_probability(logits, self.good_id, self.bad_id)
