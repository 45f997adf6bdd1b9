"""Train a PRM in either format that inference reads, with transformers' ``Trainer``.

* ``math_shepherd``: a causal LM; at each step tag the loss is a 2-way cross-entropy over the
  good and bad tokens' logits (what :class:`~ttscale.prm.math_shepherd.MathShepherdPRM`
  reads). ``lm_weight`` adds the LM loss on the tokens of the steps before the first bad one,
  so a verifier started from a policy keeps the skill it verifies with.
* ``token_classification``: ``AutoModelForTokenClassification`` with 2 labels, labelled at the
  last token of each step's separator, as TRL's former ``PRMTrainer`` did (its ``tokenize_row``
  is pinned in the tests).

Both encode an example with the very function inference uses, so training and scoring can
never see different inputs. ``Trainer`` is what makes the same command run on several GPUs
under ``accelerate launch``. TRL (1.16) no longer ships a PRM trainer; this replaces it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

import torch

FORMATS = ("math_shepherd", "token_classification")


@dataclass(frozen=True)
class Tokens:
    """How a format marks steps: the tag or separator, and the good/bad tokens."""

    format: Literal["math_shepherd", "token_classification"]
    step_tag: str = "ки"
    good_token: str = "+"
    bad_token: str = "-"
    separator: str = "\n"


def encode_example(
    tokenizer: Any, tokens: Tokens, example: dict[str, Any], *, until_error: bool = False
) -> dict[str, list[int]]:
    """``{"input_ids", "labels", "lm_labels"}`` of one TRL-format record.

    ``labels`` is -100 except at step ends: the good/bad token id (math_shepherd) or 1/0
    (token_classification). ``until_error`` labels the steps up to the first bad one only
    (ProcessBench's view: what follows an error has no label of its own), so the PRM must
    judge each step rather than guess from the problem whether an error came earlier.
    ``lm_labels`` holds the ids of the text up to the last good step before the first bad
    one (math_shepherd's LM loss), -100 elsewhere.
    """
    prompt, steps, good = example["prompt"], example["completions"], example["labels"]
    if len(steps) != len(good):
        raise ValueError(f"{len(steps)} steps but {len(good)} labels in {prompt[:60]!r}")
    if tokens.format == "math_shepherd":
        from ttscale.prm.math_shepherd import format_input

        ids = tokenizer(format_input(prompt, steps, tokens.step_tag), add_special_tokens=False)
        ids = list(ids.input_ids)
        tag = tokenizer.convert_tokens_to_ids(tokens.step_tag)
        positions = [i for i, t in enumerate(ids) if t == tag]
        if len(positions) != len(steps):
            raise ValueError(
                f"{len(steps)} steps but {len(positions)} step tags in {prompt[:60]!r}"
            )
        ok_id, bad_id = tokenizer.convert_tokens_to_ids([tokens.good_token, tokens.bad_token])
        values = [ok_id if g else bad_id for g in good]
    elif tokens.format == "token_classification":
        from ttscale.prm.token_classification import encode_trl

        enc = encode_trl(tokenizer, prompt, steps, tokens.separator)
        ids, positions, values = enc.ids, enc.positions, [int(bool(g)) for g in good]
    else:
        raise ValueError(f"prm_format: must be one of {', '.join(FORMATS)}, got {tokens.format!r}")
    first_bad = good.index(False) if False in good else len(good)
    labels = [-100] * len(ids)
    for k, (p, v) in enumerate(zip(positions, values)):
        if until_error and k > first_bad:
            break
        labels[p] = v
    lm_end = positions[first_bad - 1] if first_bad > 0 else 0
    lm_labels = ids[:lm_end] + [-100] * (len(ids) - lm_end)
    return {"input_ids": ids, "labels": labels, "lm_labels": lm_labels}


class Collator:
    """Right-pads a batch: ids with the pad id, label columns with -100."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        out = {}
        for key, fill in (("input_ids", self.pad_id), ("labels", -100), ("lm_labels", -100)):
            out[key] = torch.tensor([r[key] + [fill] * (width - len(r[key])) for r in rows])
        out["attention_mask"] = torch.tensor(
            [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
        )
        out["group"] = torch.tensor([r.get("group", i) for i, r in enumerate(rows)])
        return out


def prm_loss(model: Any, batch: dict[str, torch.Tensor], tokens: Tokens, ids: tuple[int, int],
             lm_weight: float, rank_weight: float = 0.0,
             cls_weight: float = 1.0) -> torch.Tensor:  # fmt: skip
    """The training loss of one batch (``ids``: the good and bad token ids).

    ``cls_weight`` scales the step labels' loss: 0 with ``lm_weight`` 1 is plain LM training
    on the steps, in the very input format the PRM reads (``learn.py``'s pretraining).

    ``rank_weight`` adds a within-problem ranking loss: for every pair of samples of one
    problem (``batch["group"]``) of which one is wholly right and one is not, softplus of
    the wrong one's solution score minus the right one's, where a solution's score is its
    lowest step margin (log-odds of good). It rewards telling right from wrong *within* a
    problem, which per-step labels alone do not: they can be fit by how hard a problem is.
    """
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits, labels = out.logits, batch["labels"]
    where = labels != -100
    if tokens.format == "token_classification":
        margin = logits[..., 1].float() - logits[..., 0].float()
        loss = torch.nn.functional.cross_entropy(logits[where].float(), labels[where])
        bad = labels == 0
    else:
        margin = logits[..., ids[0]].float() - logits[..., ids[1]].float()
        pair = logits[where][:, list(ids)].float()  # softmax over just good and bad, as read
        loss = torch.nn.functional.cross_entropy(pair, (labels[where] == ids[1]).long())
        bad = labels == ids[1]
    loss = loss * cls_weight
    if rank_weight:
        loss = loss + rank_weight * ranking_loss(margin, where, bad, batch["group"])
    if lm_weight and tokens.format == "math_shepherd":
        lm = batch["lm_labels"][:, 1:]
        if (lm != -100).any():
            step = logits[:, :-1][lm != -100].float()
            loss = loss + lm_weight * torch.nn.functional.cross_entropy(step, lm[lm != -100])
    return loss


def ranking_loss(margin: torch.Tensor, where: torch.Tensor, bad: torch.Tensor,
                 group: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Mean softplus(score_wrong - score_right) over same-group pairs (0 without pairs)."""
    score = margin.masked_fill(~where, float("inf")).min(dim=1).values
    wrong = bad.any(dim=1)
    has = where.any(dim=1)
    pairs = (group[:, None] == group[None, :]) & (~wrong & has)[:, None] & (wrong & has)[None, :]
    if not pairs.any():
        return margin.sum() * 0.0
    diff = score[None, :] - score[:, None]  # [right i, wrong j]: wrong minus right
    return torch.nn.functional.softplus(diff[pairs]).mean()


def make_trainer(model: Any, tokenizer: Any, tokens: Tokens, records: list[dict[str, Any]],
                 args: Any, lm_weight: float = 0.0, until_error: bool = False,
                 rank_weight: float = 0.0, cls_weight: float = 1.0) -> Any:  # fmt: skip
    """A ``transformers.Trainer`` over ``records`` (TRL format), with the PRM loss.

    With ``rank_weight``, batches hold whole problems: records are grouped by prompt, the
    groups shuffled once (``args.seed``) and read in order, so same-problem pairs meet.
    """
    from transformers import Trainer

    rows = [encode_example(tokenizer, tokens, r, until_error=until_error) for r in records]
    if rank_weight:
        rows = _grouped(rows, [r["prompt"] for r in records], args.seed)
    ids = tuple(tokenizer.convert_tokens_to_ids([tokens.good_token, tokens.bad_token]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    class PRMTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
            loss = prm_loss(model, inputs, tokens, ids, lm_weight, rank_weight, cls_weight)
            return (loss, None) if return_outputs else loss

        def _get_train_sampler(self, *args, **kwargs):
            if not rank_weight:
                return super()._get_train_sampler(*args, **kwargs)
            return torch.utils.data.SequentialSampler(self.train_dataset)

    return PRMTrainer(
        model=model, args=args, train_dataset=_Rows(rows), data_collator=Collator(pad)
    )


def _grouped(rows: list[dict], prompts: list[str], seed: int) -> list[dict]:
    """Rows ordered by problem (groups in a seeded random order), each tagged with its group."""
    order: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        order.setdefault(p, []).append(i)
    groups = list(order.values())
    random.Random(seed).shuffle(groups)
    return [{**rows[i], "group": g} for g, members in enumerate(groups) for i in members]


class _Rows(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.rows[i]


def training_args(out: str, *, steps: int, batch_size: int, lr: float, warmup: int, seed: int,
                  weight_decay: float = 0.01, log_every: int = 50, cpu: bool | None = None) -> Any:  # fmt: skip
    """``TrainingArguments`` for a PRM run: no checkpoints, no reporting, cosine schedule."""
    from transformers import TrainingArguments

    cpu = (not torch.cuda.is_available()) if cpu is None else cpu
    return TrainingArguments(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        warmup_steps=warmup,
        weight_decay=weight_decay,
        lr_scheduler_type="cosine",
        logging_steps=log_every,
        save_strategy="no",
        report_to=[],
        seed=seed,
        data_seed=seed,
        use_cpu=cpu,
        # bf16 autocast: on CPU about 4x faster than fp32 for the toy models; on GPUs that have it.
        bf16=cpu or (torch.cuda.is_available() and torch.cuda.is_bf16_supported()),
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def shuffle(records: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    out = list(records)
    random.Random(seed).shuffle(out)
    return out
