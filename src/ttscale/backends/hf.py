"""In-process transformers backend: a batched sampling loop with a KV cache.

Why our own loop rather than ``model.generate``: each sample carries its own temperature,
top_p, stop strings and seed. Every sample draws its uniforms from its own seeded stream, so
a completion does not depend on the batch it ran in: a sharded run reproduces an unsharded
one. Finished rows are dropped from the cache as the batch shrinks.
"""

from __future__ import annotations

import inspect
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ttscale.types import Completion, SamplingParams, derive_seed

# transformers 5.x's own LlamaForCausalLM passes the deprecated name to its inner model.
warnings.filterwarnings("ignore", message=r".*past_key_values.* is deprecated")


@dataclass
class _Sample:
    prompt: int  # index into the prompts of the call
    ids: list[int]
    params: SamplingParams
    seed: int


class HFGenerator:
    """Sample from a local causal LM (CPU or GPU) with transformers.

    Args:
        model_path: a folder or Hub id loadable with ``AutoModelForCausalLM``.
        device: "cpu", "cuda", or "auto" (cuda when available).
        dtype: "float32", "bfloat16", "float16" or "auto" (fp32 on CPU, bf16 on GPU).
        batch_size: samples decoded together.
        seed: seeds the draws of requests that carry no seed of their own.
        progress: show a progress bar over samples.
    """

    def __init__(
        self,
        model_path: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 64,
        seed: int = 0,
        progress: bool = True,
        trust_remote_code: bool = False,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # weight-loading bars of a few-MB model are noise
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else "bfloat16"
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(
            model_path, trust_remote_code=trust_remote_code
        )
        self.model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
        ).to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        self.progress = progress
        self._rng = random.Random(seed)
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = next(iter(self.eos_ids))
        self.max_positions = getattr(self.model.config, "max_position_embeddings", 1 << 30)
        # transformers 5 renamed past_key_values to cache; support both.
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    def generate(
        self, prompts: Sequence[str], params: Sequence[SamplingParams] | SamplingParams
    ) -> list[list[Completion]]:
        """See :class:`ttscale.types.Generator`."""
        if isinstance(params, SamplingParams):
            params = [params] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(params)} sampling params")
        encoded = self.tokenizer(list(prompts), add_special_tokens=False).input_ids
        samples = []
        for i, (ids, p) in enumerate(zip(encoded, params)):
            base = p.seed if p.seed is not None else self._rng.getrandbits(62)
            samples += [_Sample(i, ids, p, derive_seed(base, j)) for j in range(p.n)]
        out: list[list[Completion | None]] = [[None] * p.n for p in params]
        slot = [0] * len(prompts)
        order = {id(s): k for k, s in enumerate(samples)}
        results: dict[int, Completion] = {}
        # Similar lengths decode together: less padding, batches that finish together.
        ranked = sorted(samples, key=lambda s: (len(s.ids), s.prompt))
        bar = _progress(len(samples), self.progress and len(samples) > self.batch_size)
        for start in range(0, len(ranked), self.batch_size):
            batch = ranked[start : start + self.batch_size]
            for s, c in zip(batch, self._decode(batch)):
                results[order[id(s)]] = c
            bar.update(len(batch))
        bar.close()
        for k, s in enumerate(samples):
            out[s.prompt][slot[s.prompt]] = results[k]
            slot[s.prompt] += 1
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def _decode(self, batch: list[_Sample]) -> list[Completion]:
        B = len(batch)
        width = max(len(s.ids) for s in batch)
        budget = [min(s.params.max_tokens, self.max_positions - len(s.ids)) for s in batch]
        if min(budget) < 1:
            raise ValueError(
                f"a prompt of {width} tokens leaves no room under the model's "
                f"{self.max_positions} positions"
            )
        ids = torch.full((B, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((B, width), dtype=torch.long)
        for r, s in enumerate(batch):
            ids[r, width - len(s.ids) :] = torch.tensor(s.ids)
            mask[r, width - len(s.ids) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        temps = torch.tensor([s.params.temperature for s in batch], device=self.device)
        top_ps = torch.tensor([s.params.top_p for s in batch], device=self.device)
        # Each sample's uniforms come from its own seeded stream: draw t is used at step t.
        uniforms = torch.stack(
            [
                torch.rand(max(budget), generator=torch.Generator().manual_seed(s.seed))
                for s in batch
            ]
        )
        new: list[list[int]] = [[] for _ in batch]
        done: list[Completion | None] = [None] * B
        live = list(range(B))  # row r of the current tensors is sample live[r]
        cache = None
        step_ids, step_pos = ids, pos
        while live:
            out = self.model(
                input_ids=step_ids,
                attention_mask=mask,
                position_ids=step_pos,
                past_key_values=cache,
                use_cache=True,
            )
            cache = out.past_key_values
            logits = out.logits[:, -1, :].float()
            u = uniforms[live, len(new[live[0]])]
            tokens = _sample(logits, temps, top_ps, u.to(self.device)).tolist()
            keep = []
            for r, (b, tok) in enumerate(zip(live, tokens)):
                new[b].append(tok)
                done[b] = self._finished(batch[b], new[b], budget[b])
                if done[b] is None:
                    keep.append(r)
            if len(keep) < len(live):
                if not keep:
                    break
                idx = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(idx)
                mask, temps, top_ps = mask[idx], temps[idx], top_ps[idx]
                step_pos = step_pos[idx]
                live = [live[r] for r in keep]
                tokens = [tokens[r] for r in keep]
            step_ids = torch.tensor(tokens, device=self.device)[:, None]
            step_pos = step_pos[:, -1:] + 1
            mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        return done  # type: ignore[return-value]

    def _finished(self, s: _Sample, new: list[int], budget: int) -> Completion | None:
        if new[-1] in self.eos_ids:
            return Completion(self.tokenizer.decode(new[:-1]), len(new), "eos")
        if s.params.stop:
            # Only the tail can hold a new match: decode a few tokens, not the whole text.
            tail = self.tokenizer.decode(new[-(max(map(len, s.params.stop)) + 2) :])
            if _stop_cut(tail, s.params.stop) is not None:
                text = self.tokenizer.decode(new)
                cut = _stop_cut(text, s.params.stop)
                if cut is not None:
                    return Completion(text[:cut], len(new), "stop")
        if len(new) >= budget:
            return Completion(self.tokenizer.decode(new), len(new), "length")
        return None


def _stop_cut(text: str, stops: Sequence[str]) -> int | None:
    """End of the earliest stop string in text (the stop string is kept), or None."""
    ends = [text.find(s) + len(s) for s in stops if s and s in text]
    return min(ends) if ends else None


def _sample(logits: torch.Tensor, temps: torch.Tensor, top_ps: torch.Tensor, u: torch.Tensor):
    """Inverse-CDF sampling with one uniform per row; temperature 0 is argmax."""
    greedy = temps <= 0
    scaled = logits / torch.where(greedy, torch.ones_like(temps), temps)[:, None]
    probs = torch.softmax(scaled, dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    cum = sorted_p.cumsum(-1)
    # Keep the smallest prefix whose mass reaches top_p (always at least one token).
    sorted_p = torch.where(cum - sorted_p < top_ps[:, None], sorted_p, torch.zeros_like(sorted_p))
    cum = sorted_p.cumsum(-1)
    pick = torch.searchsorted(cum, (u * cum[:, -1])[:, None]).clamp(max=logits.shape[-1] - 1)
    tokens = order.gather(-1, pick).squeeze(-1)
    return torch.where(greedy, logits.argmax(-1), tokens)


def _eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id if model.generation_config else None
    ids = ids if isinstance(ids, list) else [ids]
    ids = {i for i in ids if i is not None}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="generate", unit="sample", disable=not enabled, leave=False)
