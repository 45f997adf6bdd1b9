"""math-shepherd-style PRMs: a step tag after each step, P("+") vs P("-") read at each tag.

Serves ``peiyi9979/math-shepherd-mistral-7b-prm`` (tag ``ки``, tokens "+"=648, "-"=387,
"ки"=12902; ``conf/prm/math-shepherd.yaml`` pins those ids) and the toy PRM, which was
trained in exactly this format. Token ids are looked up from the tokenizer by their strings,
and their absence is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ttscale.prm.base import Encoded, TokenPRM, pair_probability

STEP_SEP = "\n\n"


def format_input(question: str, steps: Sequence[str], tag: str = "ки") -> str:
    """``question + " " + answer`` with every step end marked ``" ки"`` (steps joined by \\n\\n).

    A tag the policy wrote inside a step is removed: it would be read as a step end.
    """
    return question + " " + STEP_SEP.join(f"{s.replace(tag, '')} {tag}" for s in steps)


class MathShepherdPRM(TokenPRM):
    """Scores steps with a causal LM read at step-tag positions.

    Options: ``step_tag`` ("ки"), ``good_token`` ("+"), ``bad_token`` ("-"); the rest as
    :class:`ttscale.prm.base.TokenPRM`.
    """

    def setup(self, step_tag: str = "ки", good_token: str = "+", bad_token: str = "-") -> None:
        self.step_tag = step_tag
        self.tag_id = self.token_id(step_tag, "step_tag")
        self.good_id = self.token_id(good_token, "good_token")
        self.bad_id = self.token_id(bad_token, "bad_token")

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        text = format_input(question, steps, self.step_tag)
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        positions = [p for p, t in enumerate(ids) if t == self.tag_id]
        if len(positions) != len(steps):
            raise ValueError(
                f"PRM: {len(steps)} steps but {len(positions)} step tags; the question "
                f"contains the tag {self.step_tag!r} or it merged with a neighbour"
            )
        return Encoded(ids, positions)

    def read(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return pair_probability(logits, self.good_id, self.bad_id)
