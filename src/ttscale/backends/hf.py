"""In-process transformers backend: a batched sampling loop with a KV cache.

Why our own loop rather than ``model.generate``: each sample carries its own temperature,
top_p, stop strings and seed. Every sample draws its uniforms from its own seeded stream, so
a completion does not depend on the batch it ran in: a sharded run reproduces an unsharded
one. The KV cache is preallocated and written in place (transformers' DynamicCache copies the
whole cache every step); a finished row leaves it at once, by moving a later row into its place.
"""

from __future__ import annotations

import inspect
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from ttscale.backends.kv_cache import GrowingLayer, drop_rows
from ttscale.backends.token_sampling import Window, sample_tokens, stop_cut, uniforms
from ttscale.loading import loading
from ttscale.prefix_cache import PrefixCache, batch_past, past_keyword
from ttscale.prompts import render_chat
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
        kv_cache: "preallocated" (default): each step writes its keys and values in place and
            a finished row's place is taken by a later row; "dynamic": transformers'
            DynamicCache, compacted by a copy of every row at every finish (the earlier
            implementation, kept for ``bench/hf_decode.py``).
        prefix_cache_mb: keep the keys and values of prompts, and of completions that ended at
            a stop string (a step search's steps, to be continued), up to this many MiB: a
            later prompt computes only its tokens past the longest cached prefix
            (:mod:`ttscale.prefix_cache`). 0: every prompt is read whole.
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
        kv_cache: str = "preallocated",
        prefix_cache_mb: int = 0,
    ) -> None:
        if kv_cache not in ("preallocated", "dynamic"):
            raise ValueError(f"kv_cache must be 'preallocated' or 'dynamic', got {kv_cache!r}")
        if prefix_cache_mb and kv_cache != "preallocated":
            raise ValueError("prefix_cache_mb needs kv_cache='preallocated'")
        self.prefix = PrefixCache(prefix_cache_mb << 20) if prefix_cache_mb else None
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # weight-loading bars of a few-MB model are noise
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "float32" if device == "cpu" else "bfloat16"
        self.device = torch.device(device)
        with loading("model.path", model_path):
            self.tokenizer = AutoTokenizer.from_pretrained(
                model_path, trust_remote_code=trust_remote_code
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                model_path, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
            )
        self.model.to(self.device)
        self.model.eval()
        self.batch_size = batch_size
        self.kv_cache = kv_cache
        self.progress = progress
        self._rng = random.Random(seed)
        self._tails: dict[tuple[int, ...], str] = {}
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = next(iter(self.eos_ids))
        self.max_positions = getattr(self.model.config, "max_position_embeddings", 1 << 30)
        self._cache_kw = past_keyword(self.model)
        params = inspect.signature(self.model.forward).parameters
        self._keep_kw = {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    @classmethod
    def from_config(cls, model: Any, *, seed: int = 0, progress: bool = True) -> HFGenerator:
        """Build from a :class:`ttscale.config.ModelConfig`."""
        return cls(
            model.path,
            device=model.device,
            dtype=model.dtype,
            batch_size=model.batch_size,
            seed=seed,
            progress=progress,
            trust_remote_code=model.trust_remote_code,
            prefix_cache_mb=model.prefix_cache_mb if model.enable_prefix_caching else 0,
        )

    def render(self, messages, **template_kwargs: Any) -> str:
        """See :class:`ttscale.types.Generator`: the tokenizer's chat template."""
        return render_chat(self.tokenizer, messages, template_kwargs)

    def close(self) -> None:
        """Nothing to release: the weights go with the object."""

    stops_on_confidence = True  # SamplingParams.min_confidence is checked token by token

    def describe(self) -> dict[str, Any]:
        cap = self.prefix.max_bytes >> 20 if self.prefix else 0
        return {"backend": "hf", "device": str(self.device),
                "dtype": str(self.model.dtype).removeprefix("torch."),
                "prefix_cache_mb": cap}  # fmt: skip

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
        # Similar lengths decode together: less padding, batches that finish together; equal
        # prompts sit side by side, so a batch prefills each of them once.
        ranked = sorted(samples, key=lambda s: (len(s.ids), s.ids, s.prompt))
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
        if self.prefix is not None:
            cache, logits, mask, step_pos, width, costs = self._prefill_reusing(batch, max(budget))
        else:
            total = width + max(budget)
            ids = torch.full((B, width), self.pad_id, dtype=torch.long)
            # The mask is allocated for the whole decode; step t only switches on column width + t.
            mask = torch.zeros((B, total), dtype=torch.long)
            for r, s in enumerate(batch):
                ids[r, width - len(s.ids) :] = torch.tensor(s.ids)
                mask[r, width - len(s.ids) : width] = 1
            ids, mask = ids.to(self.device), mask.to(self.device)
            pos = (mask[:, :width].cumsum(-1) - 1).clamp(min=0)
            cache = self._new_cache(total)
            logits, computed = self._prefill(cache, batch, ids, mask[:, :width], pos)
            step_pos = pos[:, -1:]
            # A row's prompt cost: computed by the first row of each distinct prompt, served
            # from that row's cache for the others.
            costs = [(len(s.ids), 0) if first else (0, len(s.ids))
                     for s, first in zip(batch, computed)]  # fmt: skip
        temps = torch.tensor([s.params.temperature for s in batch], device=self.device)
        top_ps = torch.tensor([s.params.top_p for s in batch], device=self.device)
        draws = uniforms(batch, max(budget)).to(self.device)
        new: list[list[int]] = [[] for _ in batch]
        want_lp = any(s.params.logprobs or s.params.top_logprobs for s in batch)
        top_k = max(s.params.top_logprobs for s in batch)
        lps: list[list[float]] = [[] for _ in batch]
        tops: list[list[tuple[float, ...]]] = [[] for _ in batch]
        group = [Window(s.params.confidence_window) for s in batch]
        done: list[Completion | None] = [None] * B
        rows = list(range(B))  # row r of the current tensors is sample rows[r]
        t = 0
        while True:
            picked = sample_tokens(logits, temps, top_ps, draws[:, t])
            tokens = picked.tolist()
            if want_lp:  # the model's own log-probabilities (no temperature, no top-p)
                logp = torch.log_softmax(logits, -1)
                drawn = logp.gather(-1, picked[:, None])[:, 0].tolist()
                best = logp.topk(min(top_k, logp.shape[-1]), -1).values.tolist() if top_k else []
            for r, (b, tok) in enumerate(zip(rows, tokens)):
                if done[b] is None:
                    new[b].append(tok)
                    if want_lp:
                        lps[b].append(drawn[r])
                        if top_k:
                            tops[b].append(tuple(best[r][: batch[b].params.top_logprobs]))
                            group[b].add(-sum(tops[b][-1]) / len(tops[b][-1]))
                    done[b] = self._finished(batch[b], new[b], budget[b])
                    if done[b] is None and group[b].below(batch[b].params.min_confidence):
                        text = self.tokenizer.decode(new[b])  # DeepConf online: stop it
                        done[b] = Completion(text, len(new[b]), "confidence")
                    if done[b] is not None and want_lp:
                        done[b] = _with_logprobs(done[b], batch[b].params, lps[b], tops[b])
                    if done[b] is not None and done[b].finish_reason == "stop" and self.prefix:
                        self._keep_step(cache, r, width, batch[b].ids, new[b])
            keep = [r for r, b in enumerate(rows) if done[b] is None]
            if not keep:
                return [
                    replace(c, prompt_tokens=computed, cached_tokens=served)  # type: ignore[arg-type]
                    for c, (computed, served) in zip(done, costs)
                ]
            # Finished rows leave at once: the move copies only as many rows as leave
            # (drop_rows), so waiting for more to finish would save little and cost their
            # forward passes meanwhile.
            if len(keep) < len(rows):
                order = drop_rows(cache, keep, self.device)
                idx = torch.tensor(order, device=self.device)
                mask, temps, top_ps, draws = mask[idx], temps[idx], top_ps[idx], draws[idx]
                step_pos = step_pos[idx]
                rows = [rows[r] for r in order]
                tokens = [tokens[r] for r in order]
            mask[:, width + t] = 1
            t += 1
            # A finished row can run past its budget: clamp so learned position tables hold.
            step_pos = (step_pos + 1).clamp(max=self.max_positions - 1)
            logits = self._forward(
                cache,
                torch.tensor(tokens, device=self.device)[:, None],
                mask[:, : width + t],
                step_pos,
            )

    def _forward(self, cache, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor):
        """One forward pass that extends ``cache``; the last position's logits in fp32."""
        kwargs = {self._cache_kw: cache, **self._keep_kw}
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, **kwargs
        )
        return out.logits[:, -1, :].float()

    def _prefill(self, cache, batch: list[_Sample], ids, mask, pos) -> tuple[Any, list[bool]]:
        """Run the prompts into ``cache``, each distinct prompt once; logits for every row,
        and per row whether its prompt was computed (else copied from an equal one's).

        Step searches send the same prefix many times (a beam's copies, a node's branches),
        and on CPU re-reading long prefixes is most of their cost.
        """
        first: dict[tuple[int, ...], int] = {}
        group = [first.setdefault(tuple(s.ids), r) for r, s in enumerate(batch)]
        if self.kv_cache == "dynamic" or len(first) == len(batch):
            return self._forward(cache, ids, mask, pos), [True] * len(batch)
        rows = torch.tensor(list(first.values()), device=self.device)  # in row order
        logits = self._forward(cache, ids[rows], mask[rows], pos[rows])
        # Row k of the distinct prefill holds the k-th distinct prompt: map each sample to it.
        where = {r: k for k, r in enumerate(first.values())}
        expand = torch.tensor([where[g] for g in group], device=self.device)
        cache.batch_select_indices(expand)
        return logits[expand], [g == r for r, g in enumerate(group)]

    def _prefill_reusing(self, batch: list[_Sample], steps: int):
        """The prefill with a prefix cache: each distinct prompt computes only its tokens past
        its longest cached prefix (at least one, for its logits), and is cached in turn.

        Layout (:func:`ttscale.prefix_cache.batch_past`): cached prefixes first, masked holes,
        then the new tokens right-aligned, so every row's last token is the last column.
        Returns the cache, logits, mask, last positions, the width decoding starts at, and
        per row (prompt tokens computed, served from a cache).
        """
        assert self.prefix is not None
        first: dict[tuple[int, ...], int] = {}
        group = [first.setdefault(tuple(s.ids), r) for r, s in enumerate(batch)]
        rows = list(first.values())
        hits = [self.prefix.match(batch[r].ids, limit=len(batch[r].ids) - 1) for r in rows]
        new = [batch[r].ids[h.length :] for r, h in zip(rows, hits)]
        lay = batch_past(hits, new, pad_id=self.pad_id, left=True,
                         device=self.device, extra=steps)  # fmt: skip
        width = lay.width + lay.ids.shape[1]
        cache = self._new_cache(width + steps)
        for layer, (k, v) in zip(cache.layers, lay.past):
            layer.update(k, v)
        logits = self._forward(cache, lay.ids, lay.mask[:, :width], lay.positions)
        for d, r in enumerate(rows):  # its new tokens; its prefix is cached already
            cols = slice(width - len(new[d]), width)
            kv = [(x.keys[d, :, cols], x.values[d, :, cols]) for x in cache.layers]
            self.prefix.insert(batch[r].ids, kv, offset=hits[d].length)
        where = {r: d for d, r in enumerate(rows)}
        expand = torch.tensor([where[g] for g in group], device=self.device)
        if len(rows) < len(batch):
            cache.batch_select_indices(expand)
        costs = [(len(new[where[g]]), hits[where[g]].length) if g == r else (0, len(s.ids))
                 for r, (s, g) in enumerate(zip(batch, group))]  # fmt: skip
        pos = lay.positions[expand][:, -1:]
        return cache, logits[expand], lay.mask[expand], pos, width, costs

    def _keep_step(self, cache, row: int, width: int, prompt: list[int], new: list[int]) -> None:
        """Cache a completion that stopped at a stop string (a search continues it): its
        prompt is cached already; its tokens but the last were fed, from column ``width``."""
        k = len(new) - 1
        if k > 0:
            tail = [(x.keys[row, :, width : width + k], x.values[row, :, width : width + k])
                    for x in cache.layers]  # fmt: skip
            self.prefix.insert(prompt + new[:k], tail, offset=len(prompt))  # type: ignore[union-attr]

    def _new_cache(self, capacity: int):
        """The KV cache of one decode: preallocated, or transformers' DynamicCache (old way)."""
        from transformers import DynamicCache
        from transformers.cache_utils import Cache

        if self.kv_cache == "dynamic":
            return DynamicCache()
        layers = self.model.config.get_text_config(decoder=True).num_hidden_layers
        return Cache(layers=[GrowingLayer(capacity) for _ in range(layers)])

    def _decode_tail(self, ids: tuple[int, ...]) -> str:
        """The text of a few tokens, memoised: the same short tails recur across rows and
        steps, and a decode call costs more than the rest of a token's bookkeeping."""
        text = self._tails.get(ids)
        if text is None:
            if len(self._tails) >= 1 << 16:
                self._tails.clear()
            text = self._tails[ids] = self.tokenizer.decode(list(ids))
        return text

    def _finished(self, s: _Sample, new: list[int], budget: int) -> Completion | None:
        if new[-1] in self.eos_ids:
            return Completion(self.tokenizer.decode(new[:-1]), len(new), "eos")
        if s.params.stop:
            # Only the tail can hold a new match: decode a few tokens, not the whole text.
            tail = self._decode_tail(tuple(new[-(max(map(len, s.params.stop)) + 2) :]))
            if stop_cut(tail, s.params.stop) is not None:
                text = self.tokenizer.decode(new)
                cut = stop_cut(text, s.params.stop)
                if cut is not None:
                    return Completion(text[:cut], len(new), "stop")
        if len(new) >= budget:
            return Completion(self.tokenizer.decode(new), len(new), "length")
        return None


def _with_logprobs(c: Completion, p: SamplingParams, lps: list[float], tops: list) -> Completion:
    """The completion with what its request asked for: drawn and/or top log-probabilities."""
    return replace(
        c,
        logprobs=tuple(lps) if p.logprobs or p.top_logprobs else None,
        top_logprobs=tuple(tops) if p.top_logprobs else None,
    )


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
