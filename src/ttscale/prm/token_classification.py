"""PRMs that TRL's former ``PRMTrainer`` wrote: a token classifier read at step separators.

``AutoModelForTokenClassification`` with 2 labels (1: the step is good). The input is
``[BOS] + prompt + step_1 + sep + step_2 + sep ...`` (BOS only where the tokenizer has one),
each piece tokenized on its own, and step k's score is P(label 1) at the last token of its
separator: exactly TRL's ``tokenize_row`` (pinned in tests/prm/test_token_classification.py),
and what ``ttscale.learn`` trains (the same :func:`encode_trl` builds both).
The HuggingFaceH4 Qwen2.5-Math-1.5B PRMs are of this kind; search-and-learn has no class
for them (its issue #45).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ttscale.prm.base import Encoded, TokenPRM


def encode_trl(tokenizer: Any, prompt: str, steps: Sequence[str], separator: str) -> Encoded:
    """TRL's PRM input: ids and, per step, the position of its separator's last token."""
    ids = list(tokenizer(prompt, add_special_tokens=False).input_ids)
    if tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id, *ids]
    sep = list(tokenizer.encode(separator, add_special_tokens=False))
    if not sep:
        raise ValueError(f"prm.step_separator={separator!r} encodes to no token")
    positions = []
    for step in steps:
        ids += list(tokenizer(step, add_special_tokens=False).input_ids) + sep
        positions.append(len(ids) - 1)
    return Encoded(ids, positions)


class TokenClassificationPRM(TokenPRM):
    """Scores steps with a 2-label token classifier (TRL's PRM format).

    Options: ``step_separator`` (TRL's default "\\n"); the rest as :class:`TokenPRM`.
    """

    def setup(self, step_separator: str = "\n") -> None:
        self.reference_only("token-classification")
        self.separator = step_separator
        encode_trl(self.tokenizer, "", ["x"], step_separator)  # an empty separator fails now

    def model_class(self) -> Any:
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    def load_model(self, model_path: str, dtype: torch.dtype) -> torch.nn.Module:
        model = super().load_model(model_path, dtype)
        if model.config.num_labels != 2:
            raise ValueError(
                f"prm.path: {model_path} is a token classifier with "
                f"{model.config.num_labels} labels; a PRM of this family has 2"
            )
        return model

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        return encode_trl(self.tokenizer, question, steps, self.separator)

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward).logits
        return logits.float().softmax(-1)[..., 1]
