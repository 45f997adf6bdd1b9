"""vLLM backend (``model.backend=vllm``): the offline ``LLM`` engine, prefix caching on.

A thin adapter: our :class:`~ttscale.types.SamplingParams` become vLLM's (temperature per
slot, top_p, n, max_tokens, stop strings kept in the text, seed) and vLLM's outputs become
:class:`~ttscale.types.Completion` (token counts and finish reasons from the engine).

Not run on the CPU-only machines this project is developed and tested on: the tests drive
this module with a stand-in ``vllm`` module (tests/backends/test_vllm.py). vLLM needs Linux and
a CUDA GPU: ``pip install 'ttscale[vllm]'``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ttscale.backends import params_per_prompt, request_seed
from ttscale.prompts import render_chat
from ttscale.types import Completion, FinishReason, SamplingParams


def import_vllm() -> Any:
    """The vllm module, or an ImportError that says how to get it."""
    try:
        import vllm
    except ImportError as err:
        raise ImportError(
            "model.backend=vllm needs vLLM, which is not installed: "
            "pip install 'ttscale[vllm]' (Linux with a CUDA GPU); on CPU use model.backend=hf"
        ) from err
    return vllm


def require_gpu() -> None:
    """Fail early and clearly where vLLM cannot run."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(
            "model.backend=vllm needs a CUDA GPU and none is visible "
            "(torch.cuda.is_available() is False); on CPU use model.backend=hf"
        )


class VLLMGenerator:
    """Sample with vLLM's offline engine.

    Args:
        model_path: a folder or Hub id.
        dtype: "auto", "bfloat16", "float16", "float32".
        gpu_memory_utilization: the engine's share of GPU memory (the rest is the PRM's).
        tensor_parallel_size: GPUs the model is split over.
        enable_prefix_caching: reuse the KV cache of shared prompt prefixes (search does).
        max_model_len: context length cap (None: the model's).
        seed: the engine's seed, and the seed of requests that carry none.
        progress: vLLM's progress bar.
    """

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.5,
        tensor_parallel_size: int = 1,
        enable_prefix_caching: bool = True,
        max_model_len: int | None = None,
        seed: int = 0,
        trust_remote_code: bool = False,
        progress: bool = True,
    ) -> None:
        self._vllm = import_vllm()
        require_gpu()
        self.llm = self._vllm.LLM(
            model=model_path,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=enable_prefix_caching,
            max_model_len=max_model_len,
            seed=seed,
            trust_remote_code=trust_remote_code,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.progress = progress
        self._rng = random.Random(seed)

    @classmethod
    def from_config(cls, model: Any, *, seed: int = 0, progress: bool = True) -> VLLMGenerator:
        """Build from a :class:`ttscale.config.ModelConfig`."""
        return cls(
            model.path,
            dtype=model.dtype,
            gpu_memory_utilization=model.gpu_memory_utilization,
            tensor_parallel_size=model.tensor_parallel_size,
            enable_prefix_caching=model.enable_prefix_caching,
            max_model_len=model.max_model_len,
            seed=seed,
            trust_remote_code=model.trust_remote_code,
            progress=progress,
        )

    def render(self, messages, **template_kwargs: Any) -> str:
        """See :class:`ttscale.types.Generator`: the tokenizer's chat template."""
        return render_chat(self.tokenizer, messages, template_kwargs)

    def close(self) -> None:
        """The engine is released with the object (vLLM frees its GPU memory then)."""

    def describe(self) -> dict[str, Any]:
        config = getattr(getattr(self.llm, "llm_engine", None), "cache_config", None)
        caching = getattr(config, "enable_prefix_caching", None)
        return {"backend": "vllm", "prefix_caching": str(caching)}

    def generate(
        self, prompts: Sequence[str], params: Sequence[SamplingParams] | SamplingParams
    ) -> list[list[Completion]]:
        """See :class:`ttscale.types.Generator`."""
        params = params_per_prompt(prompts, params)
        # Token ids, not text: the chat template already holds BOS, and vLLM's default
        # tokenization would add a second one (as the in-process backend, no special tokens).
        inputs = [
            {"prompt_token_ids": self.tokenizer(p, add_special_tokens=False).input_ids}
            for p in prompts
        ]
        seeds = [request_seed(p, self._rng) for p in params]
        sampling = [to_vllm_params(self._vllm.SamplingParams, p, s) for p, s in zip(params, seeds)]
        outputs = self.llm.generate(inputs, sampling, use_tqdm=self.progress)
        return [from_vllm_output(out, p.n, p.top_logprobs) for out, p in zip(outputs, params)]


def to_vllm_params(factory: Any, p: SamplingParams, seed: int) -> Any:
    """vLLM's ``SamplingParams`` for ours; the matched stop string stays in the text."""
    return factory(
        n=p.n,
        temperature=p.temperature,
        top_p=p.top_p,
        max_tokens=p.max_tokens,
        stop=list(p.stop),
        include_stop_str_in_output=True,
        seed=seed,
        # the sampled token's log-probability (plus k alternatives), before temperature/top-p
        **({"logprobs": p.top_logprobs} if p.logprobs or p.top_logprobs else {}),
    )


def from_vllm_output(request_output: Any, n: int, top_logprobs: int = 0) -> list[Completion]:
    """A vLLM ``RequestOutput`` as our completions, with engine token counts."""
    outs = list(request_output.outputs)
    if len(outs) != n:
        raise RuntimeError(f"vLLM returned {len(outs)} completions for a request of n={n}")
    # The prompt is prefilled once per request (minus what the prefix cache held); the other
    # samples fork from it, so their prompt counts as served from a cache.
    prompt = len(getattr(request_output, "prompt_token_ids", None) or [])
    cached = min(prompt, getattr(request_output, "num_cached_tokens", None) or 0)
    return [
        Completion(
            o.text, len(o.token_ids), _finish(o), _logprobs(o), _top(o, top_logprobs),
            prompt_tokens=prompt - cached if j == 0 else 0,
            cached_tokens=cached if j == 0 else prompt,
        )
        for j, o in enumerate(outs)
    ]  # fmt: skip


def _top(output: Any, k: int) -> tuple[tuple[float, ...], ...] | None:
    """The k best log-probabilities per token: vLLM's entries of rank <= k (it adds the sampled
    token's own entry when that one ranks lower)."""
    steps = getattr(output, "logprobs", None)
    if not k or steps is None:
        return None
    return tuple(
        tuple(sorted((float(x.logprob) for x in step.values() if x.rank <= k), reverse=True))
        for step in steps
    )


def _logprobs(output: Any) -> tuple[float, ...] | None:
    """The sampled tokens' log-probabilities: vLLM gives one {token id: Logprob} per token."""
    steps = getattr(output, "logprobs", None)
    if steps is None:
        return None
    return tuple(float(step[tok].logprob) for tok, step in zip(output.token_ids, steps))


def _finish(output: Any) -> FinishReason:
    # vLLM: finish_reason "stop" covers EOS (stop_reason None), a stop token id (an int) and
    # a stop string (the string itself); only the last is our "stop".
    if output.finish_reason == "length":
        return "length"
    if output.finish_reason == "stop":
        return "stop" if isinstance(output.stop_reason, str) else "eos"
    raise RuntimeError(f"vLLM finished a completion with {output.finish_reason!r}")
