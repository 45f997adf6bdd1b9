"""Qwen/Qwen2.5-Math-PRM-7B: a Qwen2 model with a two-label token-classification head.

Input, as Qwen's reference: the PRM's chat template over a system turn ("Please reason step
by step, and put your final answer within \\boxed{}."), the question as the user turn, and
the steps joined by ``<extra_0>`` and ended by one as the assistant turn. Step k's score is
the softmax probability of label 1 at its ``<extra_0>``.

Weights: ``model.*`` and ``score.0`` / ``score.2`` (Linear, ReLU, Linear to 2 labels), as in
the checkpoint's remote ``Qwen2ForProcessRewardModel``, which transformers does not ship;
:class:`QwenProcessRewardModel` is a minimal equivalent that loads them without remote code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import Qwen2Config, Qwen2Model, Qwen2PreTrainedModel

from ttscale.prm.base import Encoded, TokenPRM

SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."


class QwenProcessRewardModel(Qwen2PreTrainedModel):
    """Qwen2 body plus a Linear-ReLU-Linear head; ``forward`` returns (batch, length, 2) logits."""

    config_class = Qwen2Config
    base_model_prefix = "model"

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__(config)
        self.model = Qwen2Model(config)
        h = config.hidden_size
        self.score = nn.Sequential(nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2))
        self.post_init()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        # forward: position ids and a cache of earlier tokens (ttscale.prefix_cache).
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward)
        hidden = out.last_hidden_state
        return self.score(hidden)


class QwenMathPRM(TokenPRM):
    """Options: ``step_tag`` ("<extra_0>"), ``system_prompt``; the rest as ``TokenPRM``."""

    def setup(self, step_tag: str = "<extra_0>", system_prompt: str | None = None) -> None:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError("prm.path: this PRM's tokenizer has no chat template")
        self.step_tag = step_tag
        self.step_id = self.token_id(step_tag, "step_tag")
        self.system_prompt = SYSTEM_PROMPT if system_prompt is None else system_prompt

    def model_class(self) -> type:
        return QwenProcessRewardModel

    def sal_steps(self, text: str) -> list[str]:
        """``text.split("\\n\\n")``: search-and-learn replaces each ``\\n\\n`` by the tag."""
        return text.split("\n\n")

    def messages(self, question: str, steps: Sequence[str]) -> list[dict]:
        """The chat the PRM reads: the steps joined and ended by the step tag."""
        tag = self.step_tag
        if self.input_format == "sal":  # answer.replace("\n\n", tag) + tag, as the anchor
            answer, user = "".join(s + tag for s in steps), question
        else:
            answer, user = (
                "".join(s.replace(tag, "") + tag for s in steps),
                question.replace(tag, ""),
            )
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        messages = self.messages(question, steps)
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        return Encoded(ids, [p for p, t in enumerate(ids) if t == self.step_id])

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward)
        return logits.float().softmax(-1)[..., 1]
