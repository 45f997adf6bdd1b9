#!/usr/bin/env python
"""Train the embedded toy world's tiny policy (seeded, CPU, about 25 min on 2 cores).

    python scripts/train_toy_models.py                 # writes models/toy-policy

The policy learns from randomly ordered valid solutions (so its samples make different
mistakes). The toy PRM is trained from it by ``python learn.py`` (``make train`` runs both).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch

from ttscale.learn.toy_policy import (
    TrainConfig,
    model_config,
    policy_batch,
    save_model,
    train_loop,
)
from ttscale.toyworld.problems import LEVELS, train_stream
from ttscale.toyworld.tokenizer import build_tokenizer

ROOT = Path(__file__).resolve().parents[1]


def train_policy(out: Path, steps: int, seed: int) -> None:
    from transformers import LlamaForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(model_config(tok))
    print(f"policy: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    streams = {lvl: train_stream(seed * 100 + lvl, levels=(lvl,)) for lvl in LEVELS}
    rng = random.Random(seed)

    def loss_of(step: int) -> torch.Tensor:
        x, y = policy_batch(tok, streams[rng.choice(LEVELS)], rng, 64)
        return model(input_ids=x, attention_mask=(x != tok.pad_token_id), labels=y).loss

    train_loop(model, TrainConfig(steps=steps, seed=seed), loss_of, "policy")
    save_model(model, tok, out, sample=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--policy-steps", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.time()
    train_policy(args.out / "toy-policy", args.policy_steps, args.seed)
    print(f"done in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
