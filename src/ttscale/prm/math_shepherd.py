"""math-shepherd-style PRMs: a step tag after each step, P("+") vs P("-") read at each tag.

Serves ``peiyi9979/math-shepherd-mistral-7b-prm`` (tag ``ки``, tokens "+"=648, "-"=387,
"ки"=12902) and the toy PRM, which was trained in exactly this format. Token ids are looked
up from the tokenizer by their strings, never hard-coded, and their absence is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ttscale.types import PRMOutput

STEP_SEP = "\n\n"


def format_input(question: str, steps: Sequence[str], tag: str = "ки") -> str:
    """``question + " " + answer`` with every step end marked ``" ки"`` (steps joined by \\n\\n).

    A tag the policy wrote inside a step is removed: it would be read as a step end.
    """
    return question + " " + STEP_SEP.join(f"{s.replace(tag, '')} {tag}" for s in steps)


class MathShepherdPRM:
    """Scores steps with a causal LM read at step-tag positions.

    Args:
        model_path: folder or Hub id of the PRM.
        batch_size: items per forward pass (always honoured).
        step_tag, good_token, bad_token: the strings whose token ids are read.
        device, dtype: as for the generator ("auto" picks cuda/bf16 when present).
    """

    def __init__(
        self,
        model_path: str,
        *,
        batch_size: int = 32,
        step_tag: str = "ки",
        good_token: str = "+",
        bad_token: str = "-",
        device: str = "auto",
        dtype: str = "auto",
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else "bfloat16"
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.tag_id = _single_token_id(self.tokenizer, step_tag, "step_tag")
        self.good_id = _single_token_id(self.tokenizer, good_token, "good_token")
        self.bad_id = _single_token_id(self.tokenizer, bad_token, "bad_token")
        self.step_tag = step_tag
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0

    def encode(self, question: str, steps: Sequence[str]) -> list[int]:
        return self.tokenizer(
            format_input(question, steps, self.step_tag), add_special_tokens=False
        ).input_ids

    @torch.inference_mode()
    def score(self, questions: Sequence[str], steps: Sequence[Sequence[str]]) -> PRMOutput:
        encoded = [self.encode(q, s) for q, s in zip(questions, steps)]
        scores: list[list[float]] = [[] for _ in encoded]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in rows)
            ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, i in enumerate(rows):  # right padding: positions need no shifting
                ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[r, : len(encoded[i])] = 1
            logits = self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
            pair = logits[..., [self.good_id, self.bad_id]].float().softmax(-1)[..., 0].cpu()
            for r, i in enumerate(rows):
                at_tag = ids[r] == self.tag_id
                scores[i] = pair[r][at_tag].tolist()
        for i, s in enumerate(steps):
            if len(scores[i]) != len(s):
                raise ValueError(
                    f"PRM item {i}: {len(s)} steps but {len(scores[i])} step tags; "
                    f"a step contains the tag {self.step_tag!r}"
                )
        return PRMOutput(scores, [len(e) for e in encoded])


def _single_token_id(tokenizer, text: str, key: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1 or ids[0] == tokenizer.unk_token_id:
        raise ValueError(
            f"prm.{key}={text!r} is not a single token of this PRM's tokenizer (encodes to {ids})"
        )
    return ids[0]
