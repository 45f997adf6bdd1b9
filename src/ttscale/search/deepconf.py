"""DeepConf online (arXiv 2508.15260): confidence-stopped traces and a consensus stop.

Per problem:

1. ``warmup`` traces, whole; each trace's confidence is its lowest group confidence (the
   mean DeepConf token confidence over ``window`` tokens, :mod:`ttscale.scorers.confidence`).
   The stopping threshold is their ``1 - keep`` quantile (keep = eta: 0.1 keeps the top 10%,
   DeepConf-low; 0.9, DeepConf-high).
2. Rounds of ``batch`` more traces, each stopped as soon as its last ``window`` tokens'
   confidence drops below the threshold (finish reason ``confidence``): in the hf backend's
   own loop, token by token; on other backends in chunks of ``chunk`` tokens
   (:func:`generate_stopping`), so a trace overshoots by less than a chunk.
3. The vote: traces that finished and reach the threshold, weighted by their confidence
   (warm-up traces included). The problem stops once the top answer holds ``consensus`` of
   the weight, or at n traces.

Stopped traces count the tokens they really generated; their score is 0, so they weigh
nothing in the row's weighted vote, which is the approach's answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

import numpy as np
from pydantic import Field

from ttscale.grading.plurality import plurality
from ttscale.scorers.confidence import group_means, token_confidence
from ttscale.scorers.logprob import DeepConf
from ttscale.search import APPROACHES
from ttscale.search.adaptive import Draws, SingleTemperature, draw_round, one_temperature
from ttscale.search.base import Approach, Context
from ttscale.types import ChatPrompt, Completion, SamplingParams, SearchResult, derive_seed


def generate_stopping(generator, prompts, params: Sequence[SamplingParams], chunk: int):
    """``generator.generate`` honouring ``min_confidence`` on any backend.

    A backend that stops by itself (``stops_on_confidence``) gets the call as is. Otherwise
    every sample is generated ``chunk`` tokens at a time, continuing its own text; after each
    chunk its last ``confidence_window`` tokens are checked. A server's prefix cache makes the
    re-read prefix cheap (counted as cached tokens where the server reports them).
    """
    if getattr(generator, "stops_on_confidence", False) or all(
        p.min_confidence is None for p in params
    ):
        return generator.generate(prompts, params)
    jobs = []  # (prompt index, text so far, completion parts, params of one sample)
    for i, (prompt, p) in enumerate(zip(prompts, params)):
        if isinstance(prompt, ChatPrompt):
            raise ValueError("min_confidence on a chat endpoint: it cannot continue a reply")
        base = p.seed if p.seed is not None else 0
        for j in range(p.n):
            jobs.append([i, prompt, [], replace(p, n=1, seed=derive_seed(base, j))])
    live = list(jobs)
    while live:
        calls = []
        for job in live:
            p, used = job[3], sum(c.num_tokens for c in job[2])
            calls.append(replace(p, max_tokens=min(chunk, p.max_tokens - used),
                                 seed=derive_seed(p.seed, "chunk", len(job[2])),
                                 min_confidence=None))  # fmt: skip
        outs = generator.generate([job[1] for job in live], calls)
        still = []
        for job, (c,) in zip(live, outs):
            job[1] += c.text
            job[2].append(c)
            whole = _joined(job[2])
            p = job[3]
            if _below(whole, p):
                job[2] = [replace(whole, finish_reason="confidence")]
            elif c.finish_reason == "length" and whole.num_tokens < p.max_tokens:
                still.append(job)
        live = still
    out: list[list[Completion]] = [[] for _ in prompts]
    for i, _, parts, _ in jobs:
        out[i].append(_joined(parts))
    return out


def _joined(parts: list[Completion]) -> Completion:
    """Chunks of one sample as one completion (tokens, log-probs and prompt costs summed)."""
    if len(parts) == 1:
        return parts[0]
    tops = [t for c in parts for t in (c.top_logprobs or ())]
    lps = [x for c in parts for x in (c.logprobs or ())]
    return Completion(
        "".join(c.text for c in parts),
        sum(c.num_tokens for c in parts),
        parts[-1].finish_reason,
        tuple(lps) if lps else None,
        tuple(tops) if tops else None,
        sum(c.prompt_tokens for c in parts),
        sum(c.cached_tokens for c in parts),
    )


def _below(c: Completion, p: SamplingParams) -> bool:
    """Whether any window of ``confidence_window`` tokens fell below the threshold."""
    tops = c.top_logprobs or ()
    if p.min_confidence is None or len(tops) < p.confidence_window:
        return False
    confidence = [token_confidence(t) for t in tops]
    return min(group_means(confidence, p.confidence_window)) < p.min_confidence


@APPROACHES.register("deepconf_online")
class DeepConfOnline(Approach):
    """Warm-up traces set a confidence threshold; later traces stop below it."""

    class Options(SingleTemperature):
        pick: ClassVar[str] = "weighted"
        warmup: int = Field(16, ge=1)
        keep: float = Field(0.1, gt=0, le=1)  # eta: the share of warm-up traces above the bar
        window: int = Field(2048, ge=1)
        top_k: int = Field(20, ge=1)
        consensus: float = Field(0.95, gt=0.5, le=1)
        batch: int = Field(8, ge=1)  # traces per problem and round after the warm-up
        chunk: int = Field(256, ge=1)  # tokens per call on backends that cannot stop mid-trace

        def name_part(self) -> str:
            return f"--warm-{self.warmup}-keep-{self.keep:g}-w{self.window}"

    def search(self, problems, ctx: Context) -> list[SearchResult]:
        o = self.options
        t = one_temperature(ctx, "deepconf_online")
        conf = DeepConf(o.top_k, "lowest_group", o.window)
        states = [Draws(p, ctx.prompt(p), ctx.n) for p in problems]
        scores: dict[int, list[float]] = {id(s): [] for s in states}

        def generate(prompts, params):
            return generate_stopping(ctx.generator, prompts, params, o.chunk)

        def draw(group, k, bars):
            sizes = [min(k, ctx.n - len(s.comps)) for s in group]
            extra = [{"top_logprobs": o.top_k, "min_confidence": bar,
                      "confidence_window": o.window} for bar in bars]  # fmt: skip
            drawn = draw_round(group, sizes, ctx, t, extra=extra, generate=generate)
            for s, comps in zip(group, drawn):
                scores[id(s)] += [conf.reduce(conf.token_values(c)) for c in comps]

        draw(states, o.warmup, [None] * len(states))
        bars = {id(s): _bar(scores[id(s)], o.keep) for s in states}

        def unsettled(group):
            return [s for s in group if len(s.comps) < ctx.n
                    and not _settled(s, scores[id(s)], bars[id(s)], o.consensus)]  # fmt: skip

        live = unsettled(states)
        while live:
            draw(live, o.batch, [bars[id(s)] for s in live])
            live = unsettled(live)
        out = []
        for s in states:
            r = s.result(t)
            weights = _weights(s, scores[id(s)], bars[id(s)])
            r.scores = [[w] for w in weights]
            for node, w in zip(r.tree, weights):
                node["score"] = node["agg_score"] = w
            r.counters |= {
                "stopped": int(len(s.comps) < ctx.n),  # at consensus, before the budget
                "warmup": min(o.warmup, ctx.n),
                "stopped_traces": sum(c.finish_reason == "confidence" for c in s.comps),
                "vote_index": _vote_index(s.keys, weights),
            }
            r.prm_calls = 1  # scored (by its own confidence): the row has scores
            out.append(r)
        return out


def _bar(warmup: Sequence[float], keep: float) -> float:
    """The threshold: the ``1 - keep`` quantile of the warm-up traces' confidences."""
    finite = [x for x in warmup if math.isfinite(x)]
    return float(np.quantile(finite, 1 - keep)) if finite else -math.inf


def _weights(s: Draws, scores: Sequence[float], bar: float) -> list[float]:
    """Vote weight per trace: its confidence if it finished at or above the bar, else 0."""
    return [
        x if c.finish_reason != "confidence" and math.isfinite(x) and x >= bar else 0.0
        for c, x in zip(s.comps, scores)
    ]


def _settled(s: Draws, scores: Sequence[float], bar: float, consensus: float) -> bool:
    weights = _weights(s, scores, bar)
    total = sum(w for k, w in zip(s.keys, weights) if k is not None)
    top = plurality(s.keys, weights)[1]
    return total > 0 and top / total >= consensus


def _vote_index(keys, weights) -> int:
    winner, _ = plurality(keys, weights)
    return next((j for j, k in enumerate(keys) if winner is not None and k == winner), -1)
