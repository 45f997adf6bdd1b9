"""The PRM trainer: encodings match inference's, the loss goes down, Trainer runs end to end."""

from __future__ import annotations

import pytest
import torch

from tests.learn.conftest import RECORDS, tiny_model
from ttscale.learn.trainer import (
    Collator,
    Tokens,
    encode_example,
    make_trainer,
    prm_loss,
    training_args,
)


@pytest.mark.parametrize("fmt", ["math_shepherd", "token_classification"])
def test_labels_sit_where_inference_reads_the_scores(char_tokenizer, fmt) -> None:
    from ttscale.prm.math_shepherd import format_input
    from ttscale.prm.token_classification import encode_trl

    tok = char_tokenizer
    row = encode_example(tok, Tokens(fmt), RECORDS[1])
    marked = [i for i, v in enumerate(row["labels"]) if v != -100]
    if fmt == "math_shepherd":
        ids = tok(
            format_input(RECORDS[1]["prompt"], RECORDS[1]["completions"]), add_special_tokens=False
        ).input_ids
        assert row["input_ids"] == ids
        assert [ids[i] for i in marked] == tok.convert_tokens_to_ids(["ки", "ки"])
        assert [row["labels"][i] for i in marked] == tok.convert_tokens_to_ids(["-", "-"])
        assert row["lm_labels"] == [-100] * len(ids)  # nothing before the first bad step
    else:
        enc = encode_trl(tok, RECORDS[1]["prompt"], RECORDS[1]["completions"], "\n")
        assert (row["input_ids"], marked) == (enc.ids, enc.positions)
        assert [row["labels"][i] for i in marked] == [0, 0]


def test_the_lm_loss_covers_the_steps_before_the_first_bad_one(char_tokenizer) -> None:
    rec = {
        "prompt": "Compute 2+3*2.",
        "completions": ["3*2=6, so 2+6", "2+6=9", "x"],
        "labels": [True, False, False],
    }
    row = encode_example(char_tokenizer, Tokens("math_shepherd"), rec)
    text = char_tokenizer.decode([t for t in row["lm_labels"] if t != -100])
    assert text == "Compute 2+3*2. 3*2=6, so 2+6 "  # up to the first good step's tag


def test_with_no_label_loss_the_prm_loss_is_the_lm_loss_on_the_steps(char_tokenizer) -> None:
    """``learn.py``'s pretraining: ``cls_weight=0, lm_weight=1`` is next-token loss on the
    steps of the PRM's own input, and nothing else."""
    tok, tokens = char_tokenizer, Tokens("math_shepherd")
    model = tiny_model(tok, "math_shepherd")
    row = encode_example(tok, tokens, RECORDS[0])
    batch = Collator(tok.pad_token_id)([row])
    ids = tuple(tok.convert_tokens_to_ids(["+", "-"]))
    got = prm_loss(model, batch, tokens, ids, lm_weight=1.0, cls_weight=0.0)
    x = torch.tensor([row["input_ids"]])
    labels = torch.tensor([row["lm_labels"]])
    want = model(input_ids=x, labels=labels).loss  # transformers' own shifted LM loss
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    assert prm_loss(model, batch, tokens, ids, lm_weight=0.0, cls_weight=0.0).item() == 0.0


@pytest.mark.parametrize("fmt", ["math_shepherd", "token_classification"])
def test_the_loss_goes_down_on_a_tiny_batch(char_tokenizer, fmt) -> None:
    tok, tokens = char_tokenizer, Tokens(fmt)
    model = tiny_model(tok, fmt)
    batch = Collator(tok.pad_token_id)([encode_example(tok, tokens, r) for r in RECORDS])
    ids = tuple(tok.convert_tokens_to_ids(["+", "-"]))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = prm_loss(model, batch, tokens, ids, lm_weight=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_transformers_trainer_runs_the_prm_loss(char_tokenizer, tmp_path) -> None:
    tok = char_tokenizer
    model = tiny_model(tok, "token_classification")
    args = training_args(str(tmp_path / "out"), steps=3, batch_size=2, lr=1e-3, warmup=0, seed=0,
                         log_every=1, cpu=True)  # fmt: skip
    trainer = make_trainer(model, tok, Tokens("token_classification"), RECORDS, args)
    result = trainer.train()
    assert result.global_step == 3 and result.training_loss > 0


def test_mismatched_labels_are_an_error(char_tokenizer) -> None:
    with pytest.raises(ValueError, match="2 steps but 1 labels"):
        encode_example(char_tokenizer, Tokens("math_shepherd"), {**RECORDS[0], "labels": [True]})


def test_until_error_leaves_the_steps_after_the_first_bad_one_unlabelled(char_tokenizer) -> None:
    rec = {
        "prompt": "Compute 2+3*2.",
        "completions": ["3*2=6, so 2+6", "2+6=9", "x"],
        "labels": [True, False, False],
    }
    tokens = Tokens("math_shepherd")
    every = encode_example(char_tokenizer, tokens, rec)
    until = encode_example(char_tokenizer, tokens, rec, until_error=True)
    assert sum(v != -100 for v in every["labels"]) == 3
    kept = [v for v in until["labels"] if v != -100]
    assert kept == char_tokenizer.convert_tokens_to_ids(["+", "-"])  # the good step, the error


def test_the_ranking_loss_pairs_right_and_wrong_samples_of_one_problem() -> None:
    import math

    from ttscale.learn.trainer import ranking_loss

    # 4 samples, 3 steps each: margins per step; labels: where (labelled) and bad.
    margin = torch.tensor([[2.0, 1.0, 3.0], [2.0, -1.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, -2.0]])
    where = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 1, 1]], dtype=torch.bool)
    bad = torch.tensor([[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=torch.bool)
    group = torch.tensor([0, 0, 1, 1])
    # group 0: right score 1.0, wrong -1.0; group 1: right 0.5, wrong -2.0 (min of labelled)
    want = (math.log1p(math.exp(-1.0 - 1.0)) + math.log1p(math.exp(-2.0 - 0.5))) / 2
    assert ranking_loss(margin, where, bad, group).item() == pytest.approx(want)
    assert ranking_loss(margin, where, bad, torch.tensor([0, 1, 2, 3])).item() == 0.0


def test_grouped_batches_hold_whole_problems(char_tokenizer, tmp_path) -> None:
    tok = char_tokenizer
    model = tiny_model(tok, "math_shepherd")
    args = training_args(str(tmp_path / "out"), steps=2, batch_size=2, lr=1e-3, warmup=0, seed=0,
                         log_every=1, cpu=True)  # fmt: skip
    trainer = make_trainer(model, tok, Tokens("math_shepherd"), RECORDS, args, rank_weight=1.0)
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["group"].tolist()[0] == batch["group"].tolist()[1]  # one problem's pair
    assert trainer.train().global_step == 2
