"""Scorers through run.py's pipeline on the toy models: scores recomputed by a forward pass."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from ttscale.config import ConfigError, validate

COMMON = ["dataset.num_samples=3", "max_tokens=40", "grading.workers=1", "n=4"]


def _forward_logprobs(policy_path: str, prompt: str, text: str, eos: bool):
    """Per generated token: (drawn log-prob, sorted log-probs), by one forward pass."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(policy_path)
    model = AutoModelForCausalLM.from_pretrained(policy_path, dtype=torch.float32).eval()
    ids = tok(prompt, add_special_tokens=False).input_ids
    new = tok(text, add_special_tokens=False).input_ids + ([tok.eos_token_id] if eos else [])
    with torch.inference_mode():
        logits = model(torch.tensor([ids + new])).logits[0].float()
    lp = torch.log_softmax(logits[len(ids) - 1 : -1], -1)
    drawn = lp.gather(-1, torch.tensor(new)[:, None])[:, 0]
    return drawn, lp.sort(-1, descending=True).values


def _rows(summary) -> list[dict]:
    return pq.read_table(Path(summary["path"])).to_pylist()


def _prompt(policy_path: str, problem: str) -> str:
    from transformers import AutoTokenizer

    from ttscale.prompts import build_prompt

    return build_prompt(AutoTokenizer.from_pretrained(policy_path), problem, None)


@pytest.mark.slow
def test_deepconf_offline_majority_scores_and_votes(make_cfg, policy_path):
    from ttscale.run.pipeline import main

    cfg = make_cfg(*COMMON, "approach=majority", "scorer=deepconf", "scorer.top_k=5",
                   "scorer.measure=mean", "scorer.keep=0.5", f"model.path={policy_path}")  # fmt: skip
    summary = main(cfg)
    assert "/toy-policy/deepconf/majority/" in summary["path"]
    for row in _rows(summary):
        prompt = _prompt(policy_path, row["problem"])
        for text, agg, tree in zip(row["completions"], row["agg_scores"], eval_tree(row)):
            _, top = _forward_logprobs(policy_path, prompt, text, tree["finish"] == "eos")
            want = float((-top[:, :5].mean(-1)).mean())
            assert agg == pytest.approx(want, rel=1e-4)
        # pred: the weighted vote of the top half by confidence
        order = sorted(range(4), key=lambda i: -row["agg_scores"][i])[:2]
        tally: dict[int, float] = {}
        for i in sorted(order):
            if row["answer_labels"][i] >= 0:
                tally[row["answer_labels"][i]] = (
                    tally.get(row["answer_labels"][i], 0) + row["agg_scores"][i]
                )
        if tally:
            win = max(tally, key=lambda k: tally[k])
            assert row["is_correct"] == row["correct"][row["answer_labels"].index(win)]
    assert "filtered@4" in summary["metrics"]


def eval_tree(row) -> list[dict]:
    import json

    return json.loads(row["tree"])


@pytest.mark.slow
def test_beam_search_with_a_confidence_scorer_and_no_prm(make_cfg, policy_path):
    """A step search scores each step's prefix from the log-probs kept along its path."""
    from ttscale.run.pipeline import main

    cfg = make_cfg(*COMMON, "approach=beam_search", "scorer=mean_logprob", "prm=none",
                   "approach.beam_width=2", f"model.path={policy_path}")  # fmt: skip
    summary = main(cfg)
    assert "/toy-policy/mean_logprob/beam_search/" in summary["path"]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(policy_path)
    checked = 0
    for row in _rows(summary):
        assert row["prm_tokens"] == 0
        prompt = _prompt(policy_path, row["problem"])
        for text, agg, n_tokens in zip(
            row["completions"], row["agg_scores"], row["completion_tokens"]
        ):
            # The trace holds every generated token: the text's, plus EOS if the last step
            # ended on it (the steps before end on their stop string).
            eos = n_tokens == len(tok(text, add_special_tokens=False).input_ids) + 1
            drawn, _ = _forward_logprobs(policy_path, prompt, text, eos)
            assert len(drawn) == n_tokens
            assert agg == pytest.approx(math.exp(float(drawn.mean())), rel=1e-4)
            checked += 1
    assert checked


def test_scorer_config_errors_name_the_key(make_cfg):
    with pytest.raises(ConfigError, match="scorer: approach=two_stage_voting takes no scorer"):
        validate(make_cfg("approach=two_stage_voting", "temps=grid", "scorer=deepconf"))
    with pytest.raises(ConfigError, match="agg_strategy: prod multiplies"):
        validate(make_cfg("approach=best_of_n", "scorer=deepconf", "agg_strategy=prod"))
    with pytest.raises(ConfigError, match="not read by scorer=mean_logprob: window"):
        validate(make_cfg("scorer=mean_logprob", "+scorer.window=4"))
    with pytest.raises(ConfigError, match="needs a scorer"):
        validate(make_cfg("approach=best_of_n", "prm=none"))
    # scorer=prm is the prm= group; a confidence scorer leaves the PRM out of the identity
    run = validate(make_cfg("approach=best_of_n", "scorer=self_certainty"))
    assert run.scorer_name == "self_certainty" and not run.uses_prm
    assert validate(make_cfg("approach=majority")).scorer_name == "none"
