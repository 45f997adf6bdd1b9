"""math-shepherd-style PRMs: a step tag after each step, P("+") vs P("-") read at each tag.

Serves ``peiyi9979/math-shepherd-mistral-7b-prm`` (tag ``ки``, tokens "+"=648, "-"=387,
"ки"=12902; ``conf/prm/math-shepherd.yaml`` pins those ids) and the toy PRM, which was
trained in exactly this format. Token ids are looked up from the tokenizer by their strings,
and their absence is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ttscale.prm.base import Encoded, TokenPRM, pair_probability

STEP_SEP = "\n\n"


def format_input(question: str, steps: Sequence[str], tag: str = "ки") -> str:
    """``question + " " + answer`` with every step end marked ``" ки"`` (steps joined by \\n\\n).

    A tag the policy wrote inside a step is removed: it would be read as a step end.
    """
    return question + " " + STEP_SEP.join(f"{s.replace(tag, '')} {tag}" for s in steps)


def sal_segments(text: str) -> list[str]:
    """The raw text cut after each ``\\n\\n`` (delimiters kept): ``"".join`` gives it back.

    Each segment is one step tag in search-and-learn's input; an empty text is one step.
    """
    pieces = text.split(STEP_SEP)  # non-overlapping, left to right, as str.replace
    segments = [p + STEP_SEP for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    return segments or [text]


def format_sal(question: str, steps: Sequence[str], system_prompt: str, tag: str = "ки") -> str:
    """search-and-learn's math-shepherd input for the raw completion ``"".join(steps)``.

    ``system_prompt + "\\n" + question + "\\n"``, a space, then the completion with every
    ``"\\n\\n"`` written ``" ки\\n\\n"`` and ``" ки"`` appended unless it ends in ``"\\n\\n"``.
    Tags the policy wrote stay (search-and-learn does not remove them).
    """
    body = "".join(steps)
    marked = body.replace(STEP_SEP, f" {tag}{STEP_SEP}")
    if not body.endswith(STEP_SEP):
        marked += f" {tag}"
    return f"{system_prompt}\n{question}\n {marked}"


class MathShepherdPRM(TokenPRM):
    """Scores steps with a causal LM read at step-tag positions.

    Options: ``step_tag`` ("ки"), ``good_token`` ("+"), ``bad_token`` ("-"),
    ``system_prompt`` (``input_format=sal`` only: search-and-learn puts its policy's system
    prompt first; default: its default prompt); the rest as :class:`TokenPRM`.
    """

    def setup(
        self,
        step_tag: str = "ки",
        good_token: str = "+",
        bad_token: str = "-",
        system_prompt: str | None = None,
    ) -> None:
        from ttscale.prompts import DEFAULT_SYSTEM_PROMPT

        self.system_prompt = system_prompt or DEFAULT_SYSTEM_PROMPT
        self.step_tag = step_tag
        self.tag_id = self.token_id(step_tag, "step_tag")
        self.good_id = self.token_id(good_token, "good_token")
        self.bad_id = self.token_id(bad_token, "bad_token")

    def sal_steps(self, text: str) -> list[str]:
        return sal_segments(text)

    def encode(self, question: str, steps: Sequence[str]) -> Encoded:
        if self.input_format == "sal":  # tokenized as search-and-learn does (BOS included)
            text = format_sal(question, steps, self.system_prompt, self.step_tag)
            ids = self.tokenizer(text).input_ids
        else:
            text = format_input(question, steps, self.step_tag)
            ids = self.tokenizer(text, add_special_tokens=False).input_ids
        positions = [p for p, t in enumerate(ids) if t == self.tag_id]
        if len(positions) != len(steps):
            raise ValueError(
                f"PRM: {len(steps)} steps but {len(positions)} step tags; the question "
                f"contains the tag {self.step_tag!r} or it merged with a neighbour"
            )
        return Encoded(ids, positions)

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **forward: Any
    ) -> torch.Tensor:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **forward).logits
        return pair_probability(logits, self.good_id, self.bad_id)
