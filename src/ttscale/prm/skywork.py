"""Skywork-o1-Open-PRM-Qwen-2.5 (1.5B and 7B): a Qwen2 model with a sigmoid value head.

Input, as Skywork's reference ``prepare_input``: ``BOS + problem + "\\n"``, then the answer
split on a single ``"\\n"``, each line tokenized on its own and followed by the step token
("\\n"), with the value read at every step token. Our steps are the blank-line-separated
steps of the search; a step of several lines gives several Skywork steps, and its score is
the value at its last line's step token (the end of the step). Empty lines are dropped: the
reference would score an empty "step" for each of them.

Weights: ``model.*`` (the Qwen2 body), ``v_head.summary.{weight,bias}`` (the head) and an
``lm_head`` that scoring does not use. :class:`SkyworkPRMModel` loads them without remote code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import Qwen2Config, Qwen2Model, Qwen2PreTrainedModel

from ttscale.prm.base import Encoded, TokenPRM


class _ValueHead(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.summary(hidden.to(self.summary.weight.dtype)).squeeze(-1)


class SkyworkPRMModel(Qwen2PreTrainedModel):
    """Qwen2 body plus Skywork's value head; ``forward`` returns per-token P(correct)."""

    config_class = Qwen2Config
    base_model_prefix = "model"
    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]

    def __init__(self, config: Qwen2Config) -> None:
        super().__init__(config)
        self.model = Qwen2Model(config)
        self.v_head = _ValueHead(config.hidden_size)
        self.post_init()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        # forward: position ids and a cache of earlier tokens (ttscale.prefix_cache).
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward)
        hidden = out.last_hidden_state
        return torch.sigmoid(self.v_head(hidden).float())


class SkyworkPRM(TokenPRM):
    """Options: ``step_tag`` ("\\n"); the rest as ``TokenPRM``."""

    def setup(self, step_tag: str = "\n") -> None:
        if self.tokenizer.bos_token is None:
            raise ValueError("prm.path: Skywork's input starts with BOS; this tokenizer has none")
        self.step_tag = step_tag
        self.step_id = self.token_id(step_tag, "step_tag")

    def model_class(self) -> type:
        return SkyworkPRMModel

    def sal_steps(self, text: str) -> list[str]:
        """Every ``\\n``-separated line, blank ones included, as search-and-learn scores them."""
        return text.split(self.step_tag)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        ids = self._ids(self.tokenizer.bos_token + question + "\n")
        positions = []
        for step in steps:
            if self.input_format == "sal":
                lines = [step]  # one line, blank or not
            else:
                lines = [line for line in step.split(self.step_tag) if line.strip()] or [""]
            for line in lines:
                ids += self._ids(line) if line else []
                ids.append(self.step_id)
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **forward)
