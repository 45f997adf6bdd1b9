"""The training loop of the tiny policy (scripts/train_toy_models.py).

A small Llama (head_dim 64, which vLLM's attention backends support) over the character
tokenizer, learning from randomly ordered valid solutions. The toy PRM is trained by
``learn.py`` (:mod:`ttscale.learn.run`) from this policy's weights and samples.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ttscale.toyworld.arith import (
    STEP_SEP,
    Expr,
    problem_text,
    solution_steps,
)


@dataclass
class TrainConfig:
    steps: int
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 100
    seed: int = 0
    log_every: int = 100


def model_config(tokenizer, *, layers: int = 4, hidden: int = 256, heads: int = 4):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def prompt_of(tokenizer, problem: str) -> str:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True
    )


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def _pad(seqs: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (width - len(s)) for s in seqs])


def policy_batch(tokenizer, stream: Iterator[tuple[Expr, int]], rng: random.Random, size: int):
    """Right-padded (input_ids, labels) with the loss on the solution and EOS only.

    Callers pass a one-level stream so that a batch's lengths match and little is padding.
    """
    ids, labels = [], []
    for _ in range(size):
        expr, _level = next(stream)
        prompt = tokenizer(prompt_of(tokenizer, problem_text(expr)), add_special_tokens=False)
        sol = tokenizer(STEP_SEP.join(solution_steps(expr, rng)), add_special_tokens=False)
        p, s = prompt.input_ids, sol.input_ids + [tokenizer.eos_token_id]
        ids.append(p + s)
        labels.append([-100] * len(p) + s)
    return _pad(ids, tokenizer.pad_token_id), _pad(labels, -100)


def train_loop(
    model: torch.nn.Module,
    cfg: TrainConfig,
    loss_of_step: Callable[[int], torch.Tensor],
    name: str,
) -> None:
    """AdamW with warmup + cosine decay, bf16 autocast on CPU (about 4x faster than fp32)."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    model.train()
    start, running = time.time(), 0.0
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_of_step(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        if (step + 1) % cfg.log_every == 0:
            rate = (step + 1) / (time.time() - start)
            print(
                f"[{name}] step {step + 1}/{cfg.steps} loss {running / cfg.log_every:.4f} "
                f"({rate:.2f} steps/s)",
                flush=True,
            )
            running = 0.0
    model.eval()


def save_model(model, tok, out, *, sample: bool) -> None:
    """Save bf16 weights and the tokenizer in HF format (a few MB)."""
    from transformers import GenerationConfig

    model.to(torch.bfloat16).save_pretrained(out)
    tok.save_pretrained(out)
    if sample:
        # `transformers serve` ignores temperature unless do_sample is on in the config.
        GenerationConfig(
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        ).save_pretrained(out)
    print(f"saved {out}")
