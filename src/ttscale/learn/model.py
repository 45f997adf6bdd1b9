"""The model ``learn.py`` trains: a base (pretrained or fresh), optionally deepened and frozen.

A verifier must be better at the task's arithmetic than the policy whose steps it judges, and
it must have depth left *after* that arithmetic to compare what it expected with what a step
wrote. :func:`add_layers` stacks identity-initialised layers on a trained base (the new
layers add nothing until trained), and ``freeze_base`` keeps the base's skill intact while
they learn to read it (see docs/toy-world.md for what each part bought).
"""

from __future__ import annotations

from typing import Any

from ttscale.learn.config import LearnConfig


def build_model(cfg: LearnConfig) -> tuple[Any, Any]:
    """(model, tokenizer) to train: pretrained ``base.path`` or fresh weights of a shape."""
    import torch
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    b = cfg.base
    source = b.path or b.scratch_from
    tok = AutoTokenizer.from_pretrained(source)
    cls = (
        AutoModelForTokenClassification
        if cfg.prm_format.name == "token_classification"
        else AutoModelForCausalLM
    )
    extra = {"num_labels": 2} if cls is AutoModelForTokenClassification else {}
    torch.manual_seed(cfg.seed)
    if b.path:
        model = cls.from_pretrained(b.path, dtype=torch.float32, **extra)
    else:
        model = cls.from_config(AutoConfig.from_pretrained(b.scratch_from, **extra))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    return model, tok


def _decoder(model: Any) -> Any:
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "layers"):
        raise ValueError(
            f"train.add_layers: {type(model).__name__} has no decoder layer list "
            "(model.model.layers, as Llama, Qwen2 and Mistral have)"
        )
    return inner


def add_layers(model: Any, count: int, seed: int) -> Any:
    """The same model with ``count`` more decoder layers on top, each an identity at first.

    A new layer is a fresh copy of the architecture's layer whose two output projections
    (attention's ``o_proj``, the MLP's ``down_proj``) are zero, so it adds nothing to the
    residual stream: the deepened model computes exactly what the base did until trained.
    """
    import copy

    import torch

    if count <= 0:
        return model
    inner = _decoder(model)
    base = len(inner.layers)
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = base + count
    if getattr(config, "layer_types", None):
        config.layer_types = list(config.layer_types) + [config.layer_types[-1]] * count
    torch.manual_seed(seed)
    bigger = type(model)(config)
    missing, unexpected = bigger.load_state_dict(model.state_dict(), strict=False)
    new = {f"model.layers.{i}." for i in range(base, base + count)}
    if unexpected or any(not any(m.startswith(p) for p in new) for m in missing):
        raise ValueError(f"train.add_layers: the base's weights do not map ({missing[:3]})")
    for layer in _decoder(bigger).layers[base:]:
        torch.nn.init.zeros_(layer.self_attn.o_proj.weight)
        torch.nn.init.zeros_(layer.mlp.down_proj.weight)
    return bigger


def freeze_base(model: Any, trained_layers: int) -> int:
    """Freeze the embeddings and the first ``trained_layers`` decoder layers; return how many
    parameters still train (the new layers, the final norm and any head)."""
    inner = _decoder(model)
    frozen = [inner.embed_tokens, *inner.layers[:trained_layers]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
