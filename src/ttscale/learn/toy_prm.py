"""Train the toy PRM on the policy's own samples, labelled by the exact step checker.

The prototype PRM was initialised from the policy and shared its blind spots (within-problem
ranking AUC 0.60). This one starts from fresh weights, sees the policy's real mistakes at two
temperatures plus synthetic one-digit slips, and carries an auxiliary LM loss on correct
steps so that it learns the arithmetic it has to verify.

Measured on the test split: step AUC 0.87, but samples *of one problem* are ranked at chance
(0.51): it separates easy from hard problems, not right from wrong arithmetic. The policy's
own log-likelihood ranks them at 0.77 (100 problems), so the next recipe to try is a PRM
initialised from the policy and trained on more of its samples (issue note, README).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from ttscale.learn.toy_policy import (
    TrainConfig,
    corrupt_steps,
    model_config,
    prm_batch,
    prompt_of,
    save_model,
    train_loop,
)
from ttscale.metrics import auc
from ttscale.toyworld.arith import check_steps, problem_text, solution_steps, split_steps
from ttscale.toyworld.problems import train_stream
from ttscale.types import SamplingParams


def sample_policy(policy_dir: Path, num_problems: int, per_problem: int, seed: int):
    """(problem, steps) pairs sampled from the policy on fresh training problems."""
    from ttscale.backends.hf import HFGenerator

    gen = HFGenerator(str(policy_dir), batch_size=128, seed=seed)
    stream = train_stream(seed + 7)
    problems = [problem_text(next(stream)[0]) for _ in range(num_problems)]
    prompts = [prompt_of(gen.tokenizer, p) for p in problems]
    params = [
        SamplingParams(
            n=per_problem,
            temperature=0.8 if i % 2 else 1.0,
            max_tokens=256,
            seed=seed * 1_000_003 + i,
        )
        for i in range(len(prompts))
    ]
    t0 = time.time()
    outputs = gen.generate(prompts, params)
    tokens = sum(c.num_tokens for o in outputs for c in o)
    print(
        f"sampled {tokens} tokens in {time.time() - t0:.0f}s "
        f"({tokens / (time.time() - t0):.0f} tokens/s)",
        flush=True,
    )
    out = []
    for problem, comps in zip(problems, outputs):
        for c in comps:
            steps = split_steps(c.text)
            if steps:
                out.append((problem, steps))
    return out


def train_prm(
    policy_dir: Path,
    out: Path,
    steps: int,
    seed: int,
    num_problems: int = 1500,
    per_problem: int = 4,
) -> None:
    from transformers import LlamaForCausalLM

    from ttscale.toyworld.tokenizer import build_tokenizer

    pool = sample_policy(policy_dir, num_problems, per_problem, seed)
    labels = [check_steps(q, s) for q, s in pool]
    solved = sum(all(x) for x in labels) / len(labels)
    print(f"prm data: {len(pool)} policy samples, {solved:.1%} fully correct")
    held_out, pool = pool[:500], pool[500:]
    tok = build_tokenizer()
    good, bad = tok.convert_tokens_to_ids(["+", "-"])
    torch.manual_seed(seed + 1)  # fresh weights: not the policy's
    model = LlamaForCausalLM(model_config(tok))
    rng = random.Random(seed + 2)
    stream = train_stream(seed + 3)

    def synthetic() -> tuple[str, list[str]]:
        expr, _ = next(stream)
        steps = solution_steps(expr, rng)
        return problem_text(expr), corrupt_steps(steps, rng) if rng.random() < 0.6 else steps

    def loss_of(step: int) -> torch.Tensor:
        batch = rng.sample(pool, 32) + [synthetic() for _ in range(32)]
        ids, lm, where, target = prm_batch(tok, batch, good, bad)
        outp = model(input_ids=ids, attention_mask=(ids != tok.pad_token_id), labels=lm)
        pair = outp.logits[where[:, 0], where[:, 1]][:, [good, bad]].float()
        return torch.nn.functional.cross_entropy(pair, target) + 0.5 * outp.loss

    train_loop(model, TrainConfig(steps=steps, seed=seed, lr=1.5e-3), loss_of, "prm")
    print(
        f"prm step AUC on held-out policy samples: {_step_auc(model, tok, held_out, good, bad):.3f}"
    )
    save_model(model, tok, out, sample=False)


def _step_auc(model, tok, examples, good: int, bad: int) -> float:
    scores, targets = [], []
    with torch.inference_mode():
        for i in range(0, len(examples), 64):
            ids, _, where, target = prm_batch(tok, examples[i : i + 64], good, bad)
            logits = model(input_ids=ids, attention_mask=(ids != tok.pad_token_id)).logits
            pair = logits[where[:, 0], where[:, 1]][:, [good, bad]].float().softmax(-1)[:, 0]
            scores += pair.tolist()
            targets += (target == 0).tolist()
    return auc(scores, targets)
