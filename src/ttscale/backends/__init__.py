"""Generator backends behind one protocol, imported lazily (``model.backend=hf|vllm|openai``)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ttscale.registry import Registry
from ttscale.types import Generator, SamplingParams

BACKENDS: Registry[Generator] = Registry("model.backend")
BACKENDS.add("hf", "ttscale.backends.hf:HFGenerator")
BACKENDS.add("vllm", "ttscale.backends.vllm:VLLMGenerator")
BACKENDS.add("openai", "ttscale.backends.openai:OpenAIGenerator")


def build_generator(model, *, seed: int, progress: bool = True) -> Generator:
    """Build the generator that ``model`` (a :class:`ttscale.config.ModelConfig`) names.

    Pass the result to :func:`close_generator` when done: a backend may own a server.
    """
    return BACKENDS.from_config(model.backend, model, seed=seed, progress=progress)


def close_generator(generator: Generator | None) -> None:
    """Release what a generator holds (a server it started), if there is a generator."""
    if generator is not None:
        generator.close()


def params_per_prompt(
    prompts: Sequence[str], params: Sequence[SamplingParams] | SamplingParams
) -> list[SamplingParams]:
    """One :class:`SamplingParams` per prompt (a single one applies to all)."""
    if isinstance(params, SamplingParams):
        return [params] * len(prompts)
    if len(params) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(params)} sampling params")
    return list(params)


def request_seed(p: SamplingParams, rng: random.Random) -> int:
    """The request's seed, or one drawn from the generator's seeded stream when it has none."""
    return p.seed if p.seed is not None else rng.getrandbits(62)
