"""Compute counts equal the tokens the models actually read, counted at their forward passes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.search.doubles import context
from ttscale.compute import count_parameters, flops
from ttscale.data import to_problems
from ttscale.toyworld import problems as toy


def _spy(model, counts: dict[str, int], key: str, prefill_only: bool) -> None:
    """Count the real (mask-on) input tokens of every forward call (prefills only if asked)."""
    forward = model.forward

    def counted(*args, input_ids=None, attention_mask=None, **kwargs):
        width = input_ids.shape[1]
        if not prefill_only or width > 1:
            counts[key] += int(attention_mask[:, -width:].sum())
        return forward(*args, input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    model.forward = counted


@pytest.mark.parametrize("approach", ["best_of_n", "beam_search", "dvts"])
def test_prompt_and_prm_tokens_are_what_the_models_read(policy_path, prm_path, approach):
    from ttscale.backends.hf import HFGenerator
    from ttscale.prm.likelihood import LikelihoodPRM
    from ttscale.prompts import build_prompt
    from ttscale.search import APPROACHES

    gen = HFGenerator(policy_path, device="cpu", batch_size=64, progress=False)
    prm = LikelihoodPRM(prm_path, batch_size=16, device="cpu")
    counts = {"prefill": 0, "prm": 0}
    _spy(gen.model, counts, "prefill", prefill_only=True)
    _spy(prm.model, counts, "prm", prefill_only=False)
    ctx = context(gen, prm, n=4, max_tokens=64)
    ctx.prompt = lambda p: build_prompt(gen.tokenizer, p.problem, None)
    cls = APPROACHES.get(approach)
    options = cls.Options(name=approach, **({"beam_width": 2} if approach == "dvts" else {}))
    results = cls(options).search(to_problems(list(toy.test_split())[:3]), ctx)
    # Beam search re-reads each distinct prefix once per step: all of it is in prompt_tokens.
    assert sum(r.prompt_tokens for r in results) == counts["prefill"]
    # The PRM reads each distinct (question, steps) input of a call once.
    assert sum(r.prm_tokens for r in results) == counts["prm"] > 0
    # A prompt shared by several samples of one call is computed once, the rest cached.
    assert sum(r.cached_tokens for r in results) > 0
    n = count_parameters(policy_path)
    for r in results:
        assert flops(n, r.generated_tokens + r.prompt_tokens) == 2 * n * (
            r.generated_tokens + r.prompt_tokens
        )


def test_parameter_counts_and_flops():
    assert count_parameters(None) is None and count_parameters("/nonexistent") is None
    assert math.isnan(flops(None, 3)) and flops(None, 0) == 0.0 and flops(10, 3) == 60.0


def test_a_hub_id_is_counted_from_the_local_hub_cache_only(policy_path, tmp_path):
    """A real config names a Hub id: its count comes from the cached snapshot, offline."""
    import shutil

    snap = tmp_path / "models--org--tiny" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    shutil.copy(Path(policy_path) / "model.safetensors", snap / "model.safetensors")
    (tmp_path / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "models--org--tiny" / "refs" / "main").write_text("a" * 40)
    expected = count_parameters(policy_path)
    assert count_parameters("org/tiny", cache_dir=str(tmp_path)) == expected > 2_000_000
    assert count_parameters("org/absent", cache_dir=str(tmp_path)) is None  # never downloaded
