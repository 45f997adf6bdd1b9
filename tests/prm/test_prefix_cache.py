"""The prefix cache, and every causal PRM family scoring through it exactly as a full rescore.

A step search sends a PRM the question plus steps 1..k, then 1..k+1: with the cache the
second call computes only the new step's tokens. The scores must equal a fresh PRM's that
reads every input whole (float tolerance: a different but equivalent order of additions).
"""

from __future__ import annotations

import inspect

import pytest
import torch
from transformers import LlamaModel

from tests.learn.conftest import tiny_model
from tests.prm import tiny
from ttscale.prefix_cache import PrefixCache, batch_past, past_keyword
from ttscale.prm.likelihood import LikelihoodPRM
from ttscale.prm.math_shepherd import MathShepherdPRM
from ttscale.prm.qwen_math import QwenMathPRM
from ttscale.prm.rlhflow import RLHFlowPRM
from ttscale.prm.skywork import SkyworkPRM
from ttscale.prm.token_classification import TokenClassificationPRM


def kv_of(ids: list[int], layers: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Stand-in keys and values that say which token and layer they belong to."""
    t = torch.tensor(ids, dtype=torch.float32)
    return [(t.view(1, -1, 1) + 1000 * layer, -t.view(1, -1, 1)) for layer in range(layers)]


def test_the_longest_cached_prefix_is_found_and_its_keys_are_the_original_ones():
    cache = PrefixCache(1 << 20)
    cache.insert([1, 2, 3, 4], kv_of([1, 2, 3, 4]), torch.tensor([0.1, 0.2, 0.3, 0.4]))
    cache.insert([1, 2, 7], kv_of([1, 2, 7]), torch.tensor([0.1, 0.2, 0.7]))  # splits a node
    assert cache.match([9]).length == 0
    hit = cache.match([1, 2, 3, 4, 5])
    assert hit.length == 4
    assert cache.kv(hit)[1][0].flatten().tolist() == [1001, 1002, 1003, 1004]
    assert cache.values(hit).tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    hit = cache.match([1, 2, 7, 8])
    assert hit.length == 3 and cache.kv(hit)[0][1].flatten().tolist() == [-1, -2, -7]
    # Only whole sequences read before count, not a part two of them share.
    assert cache.match([1, 2, 3, 9]).length == 0 and cache.match([1, 2]).length == 0
    assert cache.match([1, 2, 3, 4], limit=2).length == 2  # a whole one, cut to the limit
    cache.insert([1, 2], kv_of([1, 2]), torch.tensor([0.1, 0.2]))  # ends inside a node
    assert cache.match([1, 2, 3, 9]).length == 2
    # Inserting what is cached copies nothing; the bytes are those of 5 distinct tokens.
    before = cache.bytes
    cache.insert([1, 2, 3], kv_of([1, 2, 3]), torch.tensor([0.1, 0.2, 0.3]))
    assert cache.bytes == before == 5 * (2 * 2 * 4) + 5 * 4
    assert cache.match([1, 2, 3, 5]).length == 3


def test_a_hit_holds_its_prefix_while_later_inserts_split_the_tree():
    """Rows of one batch are matched first and inserted one by one: an insert that splits a
    node an earlier row's hit runs through must not change that hit (a DVTS crash once)."""
    cache = PrefixCache(1 << 20)
    cache.insert([1, 2, 3, 4], kv_of([1, 2, 3, 4]), torch.tensor([0.1, 0.2, 0.3, 0.4]))
    hit = cache.match([1, 2, 3, 4, 5])
    cache.insert([1, 2, 9], kv_of([1, 2, 9]), torch.tensor([0.1, 0.2, 0.9]))
    assert cache.kv(hit)[0][0].flatten().tolist() == [1, 2, 3, 4]
    assert cache.values(hit).tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_the_cap_drops_the_least_recently_used_leaves():
    per_token = 2 * 2 * 4  # two layers of keys and values, one float each
    cache = PrefixCache(10 * per_token)
    cache.insert([1, 2, 3, 4], kv_of([1, 2, 3, 4]))
    cache.insert([5, 6, 7, 8], kv_of([5, 6, 7, 8]))
    cache.match([1, 2, 3, 4, 0])  # used more recently than [5, ...]
    cache.insert([9, 10, 11, 12], kv_of([9, 10, 11, 12]))
    assert cache.bytes <= cache.max_bytes
    assert cache.match([5, 6, 7, 8]).length == 0
    assert cache.match([1, 2, 3, 4]).length == 4 and cache.match([9, 10, 11, 12]).length == 4
    off = PrefixCache(0)
    off.insert([1], kv_of([1]))
    assert off.match([1]).length == 0 and off.bytes == 0


def test_a_batch_layout_puts_each_prefix_first_and_continues_its_positions():
    cache = PrefixCache(1 << 20)
    cache.insert([1, 2, 3], kv_of([1, 2, 3], layers=1))
    hits = [cache.match([1, 2, 3, 4]), cache.match([5, 6])]
    lay = batch_past(hits, [[4], [5, 6]], pad_id=0, left=False, device=torch.device("cpu"))
    assert lay.width == 3 and lay.hits == [3, 0]
    assert lay.mask.tolist() == [[1, 1, 1, 1, 0], [0, 0, 0, 1, 1]]
    assert lay.positions.tolist() == [[3, 0], [0, 1]] and lay.ids.tolist() == [[4, 0], [5, 6]]
    assert lay.past[0][0][0].flatten().tolist() == [1, 2, 3]
    assert lay.past[0][0][1].flatten().tolist() == [0, 0, 0]  # a hole, masked


QUESTION = "Compute 12+7*3-45."
STEPS = ["7*3=21, so 12+21-45", "12+21=33, so 33-45", "33-45=-12", "The answer is \\boxed{-12}"]
OTHER = ["12+7=19, so 19*3-45", "19*3=57, so 57-45", "57-45=12"]


def search_calls() -> list[tuple[list[str], list[list[str]]]]:
    """What a step search sends: every beam one step longer per call, siblings, repeats."""
    calls = []
    for k in range(1, 4):
        items = [STEPS[:k], OTHER[:k], [*STEPS[: k - 1], OTHER[k - 1]], STEPS[:k]]
        calls.append(([QUESTION, QUESTION, QUESTION, "What is 2+2?"], items))
    calls.append(([QUESTION], [STEPS]))
    calls.append(([QUESTION], [STEPS[:2]]))  # read before, whole: served from the cache
    return calls


FAMILIES = {
    "math_shepherd": (MathShepherdPRM, tiny.math_shepherd),
    "rlhflow": (RLHFlowPRM, tiny.rlhflow),
    "skywork": (SkyworkPRM, tiny.skywork),
    "qwen_math_prm": (QwenMathPRM, tiny.qwen_math_prm),
    # a token's output needs the one before it: a cached prefix's last token is read again
    "likelihood": (LikelihoodPRM, tiny.math_shepherd),
}


def token_classification(folder) -> str:
    """A random 2-label classifier of the toy vocabulary (what ``learn`` trains)."""
    from ttscale.toyworld.tokenizer import build_tokenizer

    tok = build_tokenizer()
    tiny_model(tok, "token_classification").save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
@pytest.mark.parametrize("family", [*FAMILIES, "token_classification"])
def test_incremental_scores_equal_a_full_rescore_for_every_family(family, tmp_path):
    if family == "token_classification":
        cls, folder = TokenClassificationPRM, token_classification(tmp_path / family)
    else:
        cls, build = FAMILIES[family]
        folder = build(tmp_path / family)
    whole = cls(folder, batch_size=3, device="cpu", dtype="float32")
    incremental = cls(folder, batch_size=3, device="cpu", dtype="float32", prefix_cache_mb=64)
    if "cache" in inspect.signature(LlamaModel.forward).parameters:  # not the deprecated name
        assert incremental._past_kw == "cache"
    served = 0
    for questions, items in search_calls():
        a, b = whole.score(questions, items), incremental.score(questions, items)
        for x, y in zip(a.scores, b.scores):
            assert y == pytest.approx(x, abs=1e-5)
        # Every token is either computed or served; never neither, and both only for a
        # token read again (a cached prefix's last: once per prefix, at most 3 deep here).
        assert_accounted(cls, b, a.num_tokens)
        served += sum(b.cached_tokens)
    assert served > 0
    # The last call was read before, whole: nothing computed.
    assert b.num_tokens == [0] and b.cached_tokens == a.num_tokens
    # Siblings in one call, nothing cached: their shared question is computed once.
    fresh = cls(folder, batch_size=3, device="cpu", dtype="float32", prefix_cache_mb=64)
    siblings = [[OTHER[0]], [STEPS[0]], [STEPS[0], STEPS[1]]]
    a, b = whole.score([QUESTION] * 3, siblings), fresh.score([QUESTION] * 3, siblings)
    assert [y == pytest.approx(x, abs=1e-5) for x, y in zip(a.scores, b.scores)] == [True] * 3
    assert sum(b.num_tokens) < sum(a.num_tokens) - 10
    assert_accounted(cls, b, a.num_tokens)


def assert_accounted(cls, out, whole: list[int]) -> None:
    """Computed plus served is every token, plus the tokens a family had to read again."""
    again = [c + h - n for c, h, n in zip(out.num_tokens, out.cached_tokens, whole)]
    assert all(0 <= x <= (3 if cls.reads_previous else 0) for x in again), again


def test_the_past_goes_by_the_name_the_model_takes():
    class Old(torch.nn.Module):
        def forward(self, input_ids, past_key_values=None): ...

    class New(torch.nn.Module):
        def forward(self, input_ids, cache=None): ...

    class Head(torch.nn.Module):  # a PRM head handing **forward on to its base model
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.model = inner

        def forward(self, input_ids, **forward): ...

    assert [past_keyword(m) for m in (Old(), New(), Head(Old()), Head(New()))] == [
        "past_key_values",
        "cache",
        "past_key_values",
        "cache",
    ]
