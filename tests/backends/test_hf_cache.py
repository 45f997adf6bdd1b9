"""The preallocated KV cache, bulk compaction and shared prefill change speed, not results."""

from __future__ import annotations

import pytest

from ttscale.learn.toy_policy import prompt_of
from ttscale.types import SamplingParams


@pytest.fixture(scope="module")
def prompts(hf_generator):
    exprs = ("12+7*3-45", "5+6", "9*8-1", "33-4*2+17-8")
    return [prompt_of(hf_generator.tokenizer, f"Compute {e}.") for e in exprs]


@pytest.fixture(scope="module")
def dynamic_generator(policy_path):
    from ttscale.backends.hf import HFGenerator

    return HFGenerator(policy_path, batch_size=16, progress=False, kv_cache="dynamic")


def _texts(gen, prompts, params):
    return [[c.text for c in out] for out in gen.generate(prompts, params)]


@pytest.mark.slow
def test_same_completions_as_transformers_dynamic_cache(hf_generator, dynamic_generator, prompts):
    # Budgets from 3 to 90 tokens and a stop string make rows finish at many different steps,
    # so finished rows leave one by one, later rows move into their places, and buffers grow
    # past their first size.
    params = [
        SamplingParams(n=6, temperature=0.9, max_tokens=90, seed=1),
        SamplingParams(n=5, temperature=0.5, max_tokens=3, seed=2),
        SamplingParams(n=4, temperature=1.2, max_tokens=40, stop=("\n\n",), seed=3),
        SamplingParams(n=3, temperature=0.0, max_tokens=70, seed=4),
    ]
    new = _texts(hf_generator, prompts, params)
    assert new == _texts(dynamic_generator, prompts, params)
    assert [len(c) for c in new[0]] != [len(new[0][0])] * 6  # rows did finish at different steps


def test_equal_prompts_are_prefilled_once_with_the_same_results(hf_generator, prompts):
    seen: list[int] = []
    forward = hf_generator.model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    # Like a step search: one request per beam copy, each with its own seed.
    params = [SamplingParams(n=1, temperature=1.0, max_tokens=30, seed=s) for s in (7, 8, 9)]
    alone = [_texts(hf_generator, [prompts[0]], [p])[0][0] for p in params]
    hf_generator.model.forward = spy
    try:
        together = [t[0] for t in _texts(hf_generator, [prompts[0]] * 3, params)]
    finally:
        del hf_generator.model.forward
    assert together == alone
    assert seen[0] == 1  # one prefill row for the three copies, then three decode rows
    assert seen[1] == 3


def test_unknown_cache_kind_is_rejected(policy_path):
    from ttscale.backends.hf import HFGenerator

    with pytest.raises(ValueError, match="kv_cache must be 'preallocated' or 'dynamic'"):
        HFGenerator(policy_path, kv_cache="static")


def _search_like(gen, prompts):
    """Three steps of a step search: each call continues the previous call's first samples
    (stopped at the blank line), next to a copy of itself; as beam search sends them."""
    calls, current = [], list(prompts)
    for k in range(3):
        params = [SamplingParams(n=2, temperature=0.9, max_tokens=60, stop=("\n\n",),
                                 seed=100 * k + i, logprobs=i % 2 == 0)
                  for i in range(len(current))]  # fmt: skip
        out = gen.generate(current, params)
        calls.append((list(current), out))
        current = [p + o[0].text for p, o in zip(current, out)]
        current = current[:-1] + current[:1]  # a beam's copy: an equal prompt in the call
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("cap_mb", [64, 1], ids=["room", "evicting"])
def test_prefix_reuse_across_calls_keeps_every_completion(
    hf_generator, policy_path, prompts, cap_mb
):
    """Reused prefixes change what is computed, never what is sampled: the same texts and
    token counts, log-probs within float tolerance, whether the cache holds all or evicts."""
    from ttscale.backends.hf import HFGenerator

    reusing = HFGenerator(policy_path, batch_size=16, progress=False, prefix_cache_mb=cap_mb)
    plain, reused = _search_like(hf_generator, prompts), _search_like(reusing, prompts)
    computed = {"plain": 0, "reused": 0}
    for (sent, a), (sent_b, b) in zip(plain, reused):
        assert sent == sent_b
        for prompt, xs, ys in zip(sent, a, b):
            length = len(hf_generator.tokenizer(prompt, add_special_tokens=False).input_ids)
            for x, y in zip(xs, ys):
                assert (y.text, y.num_tokens, y.finish_reason) == (
                    x.text,
                    x.num_tokens,
                    x.finish_reason,
                )
                if x.logprobs is not None:
                    assert y.logprobs == pytest.approx(x.logprobs, abs=1e-4)
                # Every prompt token is computed or served, once.
                assert x.prompt_tokens + x.cached_tokens == length
                assert y.prompt_tokens + y.cached_tokens == length
                computed["plain"] += x.prompt_tokens
                computed["reused"] += y.prompt_tokens
    assert any(c.finish_reason == "stop" for _, out in plain for cs in out for c in cs)
    assert computed["reused"] < computed["plain"] / 2
    assert reusing.prefix.bytes <= reusing.prefix.max_bytes


@pytest.mark.parametrize("keep", [[0, 2, 3, 5], [4, 5], [0, 1, 2], [1, 2, 3, 4, 5], [3]])
def test_dropping_rows_moves_only_the_tail_and_matches_a_gather(keep) -> None:
    import torch
    from transformers.cache_utils import Cache, DynamicLayer

    from ttscale.backends.kv_cache import GrowingLayer, drop_rows

    torch.manual_seed(0)
    keys, values = torch.randn(6, 2, 5, 4), torch.randn(6, 2, 5, 4)
    growing = Cache(layers=[GrowingLayer(16) for _ in range(2)])
    dynamic = Cache(layers=[DynamicLayer() for _ in range(2)])
    for cache in (growing, dynamic):
        for i in range(2):
            cache.layers[i].update(keys + i, values - i)
    buffers = [layer._k.data_ptr() for layer in growing.layers]

    order = drop_rows(growing, keep, torch.device("cpu"))
    assert sorted(order) == keep  # every kept row once, nothing else
    assert all(order[r] == r for r in range(len(keep)) if r in keep)  # these did not move
    assert drop_rows(dynamic, keep, torch.device("cpu")) == order
    for i in range(2):
        for cache in (growing, dynamic):
            assert torch.equal(cache.layers[i].keys, (keys + i)[order])
            assert torch.equal(cache.layers[i].values, (values - i)[order])
    # the same buffers: only the moved rows were copied
    assert [layer._k.data_ptr() for layer in growing.layers] == buffers
    growing.layers[0].update(torch.ones(len(keep), 2, 1, 4), torch.ones(len(keep), 2, 1, 4))
    assert growing.layers[0].keys.shape == (len(keep), 2, 6, 4)
