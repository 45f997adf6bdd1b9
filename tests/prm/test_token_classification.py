"""The token-classification PRM family (TRL's former PRMTrainer format).

Pinned against TRL's own documented ``PRMTrainer.tokenize_row`` output for Qwen2.5's
tokenizer (the docstring example of trl/trainer/prm_trainer.py, read from huggingface/trl),
on the real Qwen2 vocabulary (tests/vocab.py). A tiny classifier trained by ``ttscale.learn``
then scores through the normal search path.
"""

from __future__ import annotations

import pytest
import torch

from tests.learn.conftest import RECORDS, tiny_model
from ttscale.prm.token_classification import TokenClassificationPRM, encode_trl

# TRL's docstring: features and the tokenize_row result for Qwen/Qwen2.5-0.5B, separator "\n".
TRL_FEATURES = {
    "prompt": "Which number is larger, 9.8 or 9.11?",
    "completions": ["11 is greater than 8.", "Hence, 9.11 > 9.8."],
    "labels": [True, False],
}
TRL_IDS = [23085, 1372, 374, 8131, 11, 220, 24, 13, 23, 476, 220, 24, 13, 16, 16, 30, 16, 16,
           374, 7046, 1091, 220, 23, 13, 198, 39, 763, 11, 220, 24, 13, 16, 16, 861, 220, 24,
           13, 23, 13, 198]  # fmt: skip


@pytest.mark.slow
def test_the_input_is_trls_tokenize_row_byte_for_byte(real_vocab) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(real_vocab("qwen2"))
    tok.bos_token = None  # Qwen2.5's tokenizer_config.json has none (TRL's output starts without)
    f = TRL_FEATURES
    enc = encode_trl(tok, f["prompt"], f["completions"], "\n")
    assert enc.ids == TRL_IDS
    labels = [-100] * len(enc.ids)
    for p, good in zip(enc.positions, f["labels"]):
        labels[p] = int(good)
    # TRL: label 1 at the first step's "\n" (index 24), 0 at the last token.
    assert [i for i, v in enumerate(labels) if v != -100] == [24, 39]
    assert (labels[24], labels[39]) == (1, 0)


def _trained_classifier(tok, folder, steps: int = 60):
    from ttscale.learn.trainer import Collator, Tokens, encode_example, prm_loss

    model = tiny_model(tok, "token_classification")
    tokens = Tokens("token_classification")
    batch = Collator(tok.pad_token_id)([encode_example(tok, tokens, r) for r in RECORDS])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = prm_loss(model, batch, tokens, (0, 1), 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return model


def test_a_learned_classifier_scores_steps_as_trained(char_tokenizer, tmp_path) -> None:
    folder = tmp_path / "tc-prm"
    _trained_classifier(char_tokenizer, folder)
    prm = TokenClassificationPRM(str(folder), device="cpu", dtype="float32")
    out = prm.score([r["prompt"] for r in RECORDS], [r["completions"] for r in RECORDS])
    for r, s in zip(RECORDS, out.scores):
        assert len(s) == len(r["completions"])
        assert all((x > 0.5) == good for x, good in zip(s, r["labels"]))


def test_a_causal_lm_folder_is_refused_naming_the_key(char_tokenizer, tmp_path) -> None:
    folder = tmp_path / "lm"
    tiny_model(char_tokenizer, "math_shepherd").save_pretrained(folder)
    char_tokenizer.save_pretrained(folder)
    with pytest.raises(ValueError, match="prm.path"):
        TokenClassificationPRM(str(folder), device="cpu", dtype="float32")


@pytest.mark.slow
def test_it_scores_through_the_normal_search_path(
    char_tokenizer, tmp_path, make_cfg, policy_path
) -> None:
    from ttscale.run.pipeline import main

    folder = tmp_path / "tc-prm"
    _trained_classifier(char_tokenizer, folder)
    summary = main(make_cfg("prm=token-classification", f"prm.path={folder}",
                            "approach=beam_search", "n=4", "dataset.num_samples=2",
                            "approach.num_iterations=3"))  # fmt: skip
    assert summary["num_problems"] == 2
    assert summary["identity"]["prm.name"] == "token_classification"
