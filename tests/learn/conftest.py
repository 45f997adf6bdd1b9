"""A tiny toy-world model in both PRM formats, built in seconds from the char tokenizer."""

from __future__ import annotations

import torch


def tiny_model(tokenizer, fmt: str, seed: int = 0):
    """A 2-layer Llama of the toy vocabulary: a causal LM or a 2-label token classifier."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForTokenClassification

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=2,
    )
    cls = LlamaForCausalLM if fmt == "math_shepherd" else LlamaForTokenClassification
    return cls(cfg)


RECORDS = [
    {
        "prompt": "Compute 2+3.",
        "completions": ["2+3=5", "The answer is \\boxed{5}"],
        "labels": [True, True],
    },
    {
        "prompt": "Compute 2+3.",
        "completions": ["2+3=6", "The answer is \\boxed{6}"],
        "labels": [False, False],
    },
    {
        "prompt": "Compute 4*2.",
        "completions": ["4*2=8", "The answer is \\boxed{8}"],
        "labels": [True, True],
    },
    {
        "prompt": "Compute 4*2.",
        "completions": ["4*2=9", "The answer is \\boxed{8}"],
        "labels": [False, False],
    },
]
