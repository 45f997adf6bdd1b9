#!/usr/bin/env python
"""Figures at GPU scale with torch and transformers only: real shapes, random weights.

The device machines have no vLLM and no Hub, so the models are built here: a policy with
Llama-3.2-1B's shapes and a PRM with Qwen2.5-1.5B's (Qwen2.5-Math-PRM's head), random
weights (throughput does not depend on them), with the real Llama 3 and Qwen2 vocabularies
(tests/vocab.py). One token of the policy, "\\n\\n", is made likely enough that steps end
after about 40 tokens, so a step search takes several steps. Problems come from the toy
world. Measured, each in one process on the same work:

- the hf backend (HFGenerator) against transformers' ``generate`` on the same prompts;
- beam search batched across problems against one problem at a time (n=16 and 64);
- peak GPU memory of each phase.

The incremental PRM (prefix reuse) is not built yet: its figure is reported as pending.

    bash bench/gpu.sh                         # on a GPU machine (about 5 minutes on an H200)
    bash bench/gpu.sh --tiny                  # tiny shapes on CPU: the script's own test

Figures are printed and written as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = "\n\n"
TAG = "<extra_0>"
# (policy: Llama-3.2-1B, PRM: Qwen2.5-1.5B); tiny: a few MB each. The policy's output
# embeddings are untied (Llama-3.2-1B ties them): the boosted "\n\n" row below must not
# become that token's input embedding too, or every prompt ending in "\n\n" would be
# followed by "\n\n" at once (an empty step).
SHAPES = {
    "real": (
        dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
             num_attention_heads=32, num_key_value_heads=8, head_dim=64,
             max_position_embeddings=131072, tie_word_embeddings=False),
        dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
             num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768),
    ),
    "tiny": (
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=16, max_position_embeddings=2048,
             tie_word_embeddings=False),
        dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=2048),
    ),
}  # fmt: skip
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny shapes on CPU, toy tokenizers")
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--ns", default="16,64", help="beam-search n values")
    ap.add_argument("--beam-width", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=5, help="beam-search steps at most")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--sample-n", type=int, default=16, help="samples per problem, generate bench")
    ap.add_argument("--step-every", type=float, default=40.0, help="mean tokens per step")
    ap.add_argument("--skip-generate", action="store_true", help="beam search only")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    return ap.parse_args(argv)


def _tokenizers(tiny: bool):
    """(policy tokenizer, PRM tokenizer): real Llama 3 and Qwen2 vocabularies, or the toy's."""
    from transformers import AutoTokenizer

    if tiny:
        toy = str(ROOT / "models" / "toy-policy")
        policy, prm = AutoTokenizer.from_pretrained(toy), AutoTokenizer.from_pretrained(toy)
    else:
        sys.path.insert(0, str(ROOT))
        from tests.vocab import tokenizer_folder

        policy = AutoTokenizer.from_pretrained(tokenizer_folder("llama3"))
        policy.chat_template = LLAMA3_TEMPLATE
        prm = AutoTokenizer.from_pretrained(tokenizer_folder("qwen2"))
    prm.add_special_tokens({"additional_special_tokens": [TAG]})  # the Qwen PRM's step tag
    if policy.pad_token is None:
        policy.pad_token = policy.eos_token
    return policy, prm


def build_models(folder: Path, tiny: bool, step_every: float, device: str) -> tuple[str, str]:
    """Random-weight policy and PRM folders with real shapes; returns their paths."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config

    from ttscale.prm.qwen_math import QwenProcessRewardModel

    torch.manual_seed(0)
    pol_shape, prm_shape = SHAPES["tiny" if tiny else "real"]
    pol_tok, prm_tok = _tokenizers(tiny)
    cfg = LlamaConfig(vocab_size=len(pol_tok), bos_token_id=pol_tok.bos_token_id,
                      eos_token_id=pol_tok.eos_token_id, pad_token_id=pol_tok.pad_token_id,
                      **pol_shape)  # fmt: skip
    with torch.device(device):  # random init on the GPU: seconds, not a minute of CPU
        policy = LlamaForCausalLM(cfg).to(torch.bfloat16)
    # Random weights sample near-uniformly over the vocabulary, so "\n\n" would almost never
    # end a step. Give its output row a fixed direction with a large norm: its logit is then
    # alpha * (a roughly standard normal), which wins about once in ``step_every`` tokens.
    # (Llama 3 writes "\n\n" as one token; a character tokenizer as two, each boosted.)
    step_ids = pol_tok.encode(STEP, add_special_tokens=False)
    every = step_every ** (1 / len(step_ids))
    with torch.no_grad():
        head = policy.get_output_embeddings().weight
        others = head.float().std().item() * cfg.hidden_size**0.5  # std of the other logits
        for step_id in set(step_ids):
            direction = torch.randn(cfg.hidden_size, device=head.device)
            direction /= direction.norm()
            target = _logit_for(len(pol_tok), others, every)
            head[step_id] = (direction * target / 2.0).to(head.dtype)  # wins when z > 2
    pol_dir, prm_dir = folder / "policy", folder / "prm"
    policy.save_pretrained(pol_dir)
    pol_tok.save_pretrained(pol_dir)
    pcfg = Qwen2Config(vocab_size=len(prm_tok), **prm_shape)
    with torch.device(device):
        QwenProcessRewardModel(pcfg).to(torch.bfloat16).save_pretrained(prm_dir)
    del policy
    prm_tok.save_pretrained(prm_dir)
    return str(pol_dir), str(prm_dir)


def _logit_for(vocab: int, other_std: float, every: float) -> float:
    """The logit a token needs to be drawn once in ``every`` tokens among ``vocab`` others."""
    import math

    return math.log(vocab * math.exp(other_std**2 / 2) / every)


def _problems(count: int):
    from ttscale.data import to_problems
    from ttscale.toyworld.problems import test_split

    return to_problems(list(test_split())[:count])


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak(reset: bool = False) -> float:
    """Peak GPU memory in GiB since the last reset (0 on CPU)."""
    import torch

    if not torch.cuda.is_available():
        return 0.0
    peak = torch.cuda.max_memory_allocated() / 2**30
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return peak


def bench_generate(args, policy_dir: str, device: str) -> dict:
    """HFGenerator against transformers' generate: the same prompts, n and token budget."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ttscale.backends.hf import HFGenerator
    from ttscale.prompts import build_prompt
    from ttscale.types import SamplingParams

    problems = _problems(args.problems)
    tok = AutoTokenizer.from_pretrained(policy_dir)
    prompts = [build_prompt(tok, p.problem, None) for p in problems]
    n, budget = args.sample_n, args.max_tokens
    gen = HFGenerator(policy_dir, device=device, dtype=args.dtype, batch_size=len(prompts) * n,
                      progress=False)  # fmt: skip
    params = [SamplingParams(n=n, temperature=0.8, max_tokens=budget, seed=i) for i in range(len(prompts))]  # fmt: skip
    gen.generate(prompts[:2], params[:2])  # warm-up
    _peak(reset=True)
    _sync()
    t0 = time.perf_counter()
    ours = gen.generate(prompts, params)
    _sync()
    ours_s = time.perf_counter() - t0
    ours_tokens = sum(c.num_tokens for cs in ours for c in cs)
    ours_peak = _peak(reset=True)
    del gen
    model = AutoModelForCausalLM.from_pretrained(policy_dir, dtype=getattr(torch, args.dtype))
    model = model.to(device)
    tok.padding_side = "left"
    batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    kwargs = dict(do_sample=True, temperature=0.8, top_p=1.0, max_new_tokens=budget,
                  num_return_sequences=n, pad_token_id=tok.pad_token_id)  # fmt: skip
    with torch.inference_mode():
        model.generate(**{k: v[:2] for k, v in batch.items()}, **kwargs)  # warm-up
        _peak(reset=True)
        _sync()
        t0 = time.perf_counter()
        out = model.generate(**batch, **kwargs)
        _sync()
    raw_s = time.perf_counter() - t0
    new = out[:, batch["input_ids"].shape[1] :]
    raw_tokens = (
        int((new != tok.pad_token_id).sum()) if tok.pad_token_id is not None else new.numel()
    )
    raw_peak = _peak(reset=True)
    del model
    return {
        "sequences": len(prompts) * n,
        "hf_backend_s": round(ours_s, 2),
        "raw_generate_s": round(raw_s, 2),
        "hf_backend_tokens_per_s": round(ours_tokens / ours_s),
        "raw_generate_tokens_per_s": round(raw_tokens / raw_s),
        "time_ratio_backend_over_generate": round(ours_s / raw_s, 3),
        "tokens_ratio_backend_over_generate": round(ours_tokens / max(raw_tokens, 1), 3),
        "peak_gib_backend": round(ours_peak, 2),
        "peak_gib_generate": round(raw_peak, 2),
    }


def bench_beam(args, policy_dir: str, prm_dir: str, device: str) -> list[dict]:
    """Beam search batched across problems vs one problem at a time, same work and seeds."""
    from ttscale.backends.hf import HFGenerator
    from ttscale.prm.qwen_math import QwenMathPRM
    from ttscale.prompts import build_prompt
    from ttscale.scorers import PRMScorer
    from ttscale.search.base import Context
    from ttscale.search.beam_search import BeamSearch

    problems = _problems(args.problems)
    out = []
    for n in (int(x) for x in args.ns.split(",")):
        gen = HFGenerator(policy_dir, device=device, dtype=args.dtype, batch_size=4096,
                          progress=False)  # fmt: skip
        prm = QwenMathPRM(prm_dir, device=device, dtype=args.dtype, batch_size=256)
        tok = gen.tokenizer
        ctx = Context(generator=gen, scorer=PRMScorer(prm), n=n, temperatures=lambda k: [0.8] * k, top_p=1.0,
                      prompt=lambda p, tok=tok: build_prompt(tok, p.problem, None),
                      max_tokens=args.max_tokens, seed=0, agg_strategy="last")  # fmt: skip
        opts = BeamSearch.Options(beam_width=args.beam_width, num_iterations=args.iterations)
        search = BeamSearch(opts).search
        search(problems[:1], ctx)  # warm-up
        _peak(reset=True)
        _sync()
        t0 = time.perf_counter()
        batched = search(problems, ctx)
        _sync()
        batched_s = time.perf_counter() - t0
        batched_peak = _peak(reset=True)
        t0 = time.perf_counter()
        single = [r for p in problems for r in search([p], ctx)]
        _sync()
        single_s = time.perf_counter() - t0
        single_peak = _peak(reset=True)
        tokens = sum(r.generated_tokens for r in batched)
        steps = [len(json.loads(json.dumps(r.tree))) for r in batched]
        out.append({
            "n": n,
            "problems": len(problems),
            "batched_s": round(batched_s, 2),
            "one_at_a_time_s": round(single_s, 2),
            "speedup_batched": round(single_s / batched_s, 2),
            "same_completions": sum(a.completions == b.completions for a, b in zip(batched, single)),
            "generated_tokens": tokens,
            "batched_tokens_per_s": round(tokens / batched_s),
            "tree_nodes_per_problem": round(statistics.mean(steps), 1),
            "peak_gib_batched": round(batched_peak, 2),
            "peak_gib_one_at_a_time": round(single_peak, 2),
        })  # fmt: skip
        print(json.dumps(out[-1]), flush=True)
        del gen, prm, ctx
    return out


def bench_incremental_prm(args, prm_dir: str, device: str) -> dict:
    """The PRM of a step search's calls, read whole vs through its prefix cache: the same
    calls (every problem's n children one step longer per call), alternating order."""
    import random

    from ttscale.prm.qwen_math import QwenMathPRM

    rng = random.Random(0)
    problems = [p.problem for p in _problems(args.problems)]

    def step() -> str:
        a, b = rng.randrange(10, 999), rng.randrange(10, 999)
        return f"We add {a} and {b} to get {a + b}, then carry on with the rest of the sum."

    calls, paths = [], [[step()] for _ in problems]
    n = int(args.ns.split(",")[0])
    for _ in range(args.iterations):
        questions, items = [], []
        for q, path in zip(problems, paths):
            for _ in range(n):
                questions.append(q)
                items.append([*path, step()])
        calls.append((questions, items))
        paths = [items[i * n] for i in range(len(problems))]  # the first child goes on
    ways = {
        "whole": QwenMathPRM(prm_dir, device=device, dtype=args.dtype, batch_size=256),
        "incremental": QwenMathPRM(prm_dir, device=device, dtype=args.dtype, batch_size=256,
                                   prefix_cache_mb=8192),
    }  # fmt: skip
    out: dict = {}
    scores: dict = {}
    for name, prm in ways.items():
        prm.score(*calls[0])  # warm-up
        if prm.cache is not None:
            prm.cache.clear()
        _peak(reset=True)
        _sync()
        t0 = time.perf_counter()
        results = [prm.score(q, items) for q, items in calls]
        _sync()
        out[f"{name}_s"] = round(time.perf_counter() - t0, 2)
        out[f"{name}_tokens_computed"] = sum(sum(r.num_tokens) for r in results)
        out[f"{name}_peak_gib"] = round(_peak(reset=True), 2)
        scores[name] = [s for r in results for item in r.scores for s in item]
    out["speedup"] = round(out["whole_s"] / out["incremental_s"], 2)
    out["max_score_difference"] = max(
        abs(a - b) for a, b in zip(scores["whole"], scores["incremental"])
    )
    out["calls"], out["items_per_call"] = len(calls), len(calls[0][1])
    return out


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # fp32 on CPU: batched and one-at-a-time runs then give identical completions (bf16's
    # last bits depend on the batch), which the tiny check asserts
    args.dtype = "float32" if args.tiny else "bfloat16"
    import torch
    import transformers

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    if device == "cpu" and not args.tiny:
        raise SystemExit("error: no CUDA GPU here; bench/gpu.sh --tiny runs the CPU check")
    figures: dict = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "shapes": "tiny" if args.tiny else "Llama-3.2-1B policy, Qwen2.5-1.5B PRM (random weights)",
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="ttscale-gpu-") as tmp:
        t0 = time.perf_counter()
        policy_dir, prm_dir = build_models(Path(tmp), args.tiny, args.step_every, device)
        figures["build_s"] = round(time.perf_counter() - t0, 1)
        print(f"models built in {figures['build_s']} s", flush=True)
        if not args.skip_generate:
            figures["generate"] = bench_generate(args, policy_dir, device)
            print(json.dumps(figures["generate"]), flush=True)
        figures["beam_search"] = bench_beam(args, policy_dir, prm_dir, device)
        figures["incremental_prm"] = bench_incremental_prm(args, prm_dir, device)
        print(json.dumps(figures["incremental_prm"]), flush=True)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return figures


if __name__ == "__main__":
    main()
