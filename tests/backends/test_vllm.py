"""The vLLM adapter's translation both ways, with vLLM absent: a stand-in ``vllm`` module.

The real engine is not run here (no GPU); these tests pin what the adapter sends to
``LLM``/``SamplingParams`` and how it reads ``RequestOutput``s.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest

from ttscale.backends import BACKENDS, build_generator
from ttscale.config import ConfigError, validate
from ttscale.types import Completion, SamplingParams


@dataclass
class FakeOutput:  # vllm.CompletionOutput's fields that the adapter reads
    text: str
    token_ids: list[int]
    finish_reason: str
    stop_reason: int | str | None = None
    logprobs: list | None = None


@dataclass
class FakeRequestOutput:
    outputs: list[FakeOutput]
    prompt_token_ids: list[int] | None = None
    num_cached_tokens: int | None = None


class FakeTokenizer:
    def __call__(self, text: str, add_special_tokens: bool = True):
        ids = ([1] if add_special_tokens else []) + [ord(c) for c in text]
        return types.SimpleNamespace(input_ids=ids)


@dataclass
class FakeLLM:
    init: dict
    calls: list = field(default_factory=list)
    replies: list = field(default_factory=list)

    def get_tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()

    def generate(self, prompts, sampling_params, use_tqdm=True):
        self.calls.append((prompts, sampling_params, use_tqdm))
        return self.replies.pop(0)


@pytest.fixture
def fake_vllm(monkeypatch):
    """A ``vllm`` module whose LLM records its arguments, and a visible 'GPU'."""
    module = types.ModuleType("vllm")
    module.engines = []

    def llm(**kwargs):
        engine = FakeLLM(kwargs)
        module.engines.append(engine)
        return engine

    module.LLM = llm
    module.SamplingParams = lambda **kw: dict(kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    return module


def test_engine_options_come_from_the_config(fake_vllm, make_cfg):
    run = validate(
        make_cfg(
            "model=toy-vllm",
            "model.dtype=bfloat16",
            "model.gpu_memory_utilization=0.6",
            "model.tensor_parallel_size=2",
            "seed=3",
        )
    )
    gen = build_generator(run.model, seed=run.seed, progress=False)
    assert fake_vllm.engines[0].init == {
        "model": run.model.path,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.6,
        "tensor_parallel_size": 2,
        "enable_prefix_caching": True,
        "max_model_len": None,
        "seed": 3,
        "trust_remote_code": False,
    }
    assert gen.tokenizer is not None


def test_sampling_params_and_outputs_translate(fake_vllm):
    gen = BACKENDS.get("vllm")("m", seed=0, progress=False)
    engine = fake_vllm.engines[0]
    engine.replies.append(
        [
            FakeRequestOutput(
                [
                    FakeOutput("7*3=21\n\n", [55, 42, 10, 10], "stop", "\n\n"),
                    FakeOutput("done", [100, 111, 2], "stop", None),  # EOS
                ]
            ),
            FakeRequestOutput([FakeOutput("12", [49, 50], "length")]),
        ]
    )
    params = [
        SamplingParams(n=2, temperature=0.8, top_p=0.9, max_tokens=30, stop=("\n\n",), seed=11),
        SamplingParams(n=1, temperature=0.0, max_tokens=2, seed=12),
    ]
    out = gen.generate(["<s>Q", "ab"], params)
    assert out == [
        [Completion("7*3=21\n\n", 4, "stop"), Completion("done", 3, "eos")],
        [Completion("12", 2, "length")],
    ]
    prompts, sampling, use_tqdm = engine.calls[0]
    # Token ids without special tokens: the chat template already holds BOS.
    assert prompts == [
        {"prompt_token_ids": [ord(c) for c in "<s>Q"]},
        {"prompt_token_ids": [97, 98]},
    ]
    assert sampling[0] == {
        "n": 2,
        "temperature": 0.8,
        "top_p": 0.9,
        "max_tokens": 30,
        "stop": ["\n\n"],
        "include_stop_str_in_output": True,
        "seed": 11,
    }
    assert (sampling[1]["n"], sampling[1]["temperature"], sampling[1]["stop"]) == (1, 0.0, [])
    assert use_tqdm is False


def test_unseeded_requests_get_reproducible_seeds(fake_vllm):
    seeds = []
    for _ in range(2):
        gen = BACKENDS.get("vllm")("m", seed=5, progress=False)
        engine = fake_vllm.engines[-1]
        engine.replies.append([FakeRequestOutput([FakeOutput("a", [1], "length")])])
        gen.generate(["x"], [SamplingParams()])
        seeds.append(engine.calls[0][1][0]["seed"])
    assert seeds[0] == seeds[1] and isinstance(seeds[0], int)


def test_a_stop_token_id_is_not_a_stop_string(fake_vllm):
    gen = BACKENDS.get("vllm")("m", progress=False)
    fake_vllm.engines[0].replies.append([FakeRequestOutput([FakeOutput("a", [1, 7], "stop", 7)])])
    assert gen.generate(["x"], [SamplingParams()])[0][0].finish_reason == "eos"


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([FakeOutput("a", [1], "abort")], "finished a completion with 'abort'"),
        ([], "returned 0 completions for a request of n=1"),
    ],
)
def test_unexpected_engine_outputs_fail_clearly(fake_vllm, outputs, message):
    gen = BACKENDS.get("vllm")("m", progress=False)
    fake_vllm.engines[0].replies.append([FakeRequestOutput(outputs)])
    with pytest.raises(RuntimeError, match=message):
        gen.generate(["x"], [SamplingParams()])


def test_missing_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'ttscale\[vllm\]'"):
        BACKENDS.get("vllm")("m")


def test_no_gpu_fails_clearly(fake_vllm, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU and none is visible"):
        BACKENDS.get("vllm")("m")
    assert fake_vllm.engines == []  # failed before building an engine


def test_gpu_memory_shares_of_engine_and_prm_must_fit(make_cfg):
    with pytest.raises(ConfigError) as err:
        validate(
            make_cfg(
                "model=toy-vllm",
                "model.gpu_memory_utilization=0.7",
                "++prm.gpu_memory_utilization=0.4",
            )
        )
    assert "model.gpu_memory_utilization (0.7) + prm.gpu_memory_utilization (0.4)" in str(err.value)
    run = validate(
        make_cfg(
            "model=toy-vllm",
            "model.gpu_memory_utilization=0.6",
            "++prm.gpu_memory_utilization=0.4",
        )
    )
    assert run.model.gpu_memory_utilization + run.prm.gpu_memory_utilization == 1.0
    # without a PRM the engine may take the whole GPU
    validate(
        make_cfg(
            "model=toy-vllm",
            "model.gpu_memory_utilization=0.9",
            "prm=none",
            "++prm.gpu_memory_utilization=0.4",
            "approach=majority",
        )
    )


def test_logprobs_of_the_sampled_tokens(fake_vllm):
    gen = BACKENDS.get("vllm")("m", seed=0, progress=False)
    engine = fake_vllm.engines[0]
    lp = types.SimpleNamespace
    steps = [{5: lp(logprob=-0.1), 9: lp(logprob=-3.0)}, {6: lp(logprob=-0.7)}]
    engine.replies.append([FakeRequestOutput([FakeOutput("ab", [5, 6], "length", None, steps)])])
    (c,) = gen.generate(["q"], [SamplingParams(max_tokens=2, seed=1, logprobs=True)])[0]
    assert c.logprobs == (-0.1, -0.7)
    assert engine.calls[0][1][0]["logprobs"] == 0


def test_top_logprobs_are_the_entries_of_rank_k_or_better(fake_vllm):
    """vLLM returns the k best plus the sampled token's own entry when it ranks lower."""
    gen = BACKENDS.get("vllm")("m", seed=0, progress=False)
    engine = fake_vllm.engines[0]
    lp = types.SimpleNamespace
    steps = [
        {5: lp(logprob=-2.5, rank=3), 9: lp(logprob=-0.1, rank=1), 4: lp(logprob=-1.0, rank=2)},
        {6: lp(logprob=-0.7, rank=1), 2: lp(logprob=-0.9, rank=2)},
    ]
    engine.replies.append([FakeRequestOutput([FakeOutput("ab", [5, 6], "length", None, steps)])])
    (c,) = gen.generate(["q"], [SamplingParams(max_tokens=2, seed=1, top_logprobs=2)])[0]
    assert engine.calls[0][1][0]["logprobs"] == 2
    assert c.logprobs == (-2.5, -0.7)
    assert c.top_logprobs == ((-0.1, -1.0), (-0.7, -0.9))


def test_the_prompt_is_computed_once_per_request_minus_the_prefix_cache(fake_vllm):
    gen = BACKENDS.get("vllm")("m", seed=0, progress=False)
    outs = [FakeOutput("a", [5], "length", None), FakeOutput("b", [6], "length", None)]
    fake_vllm.engines[0].replies.append([FakeRequestOutput(outs, list(range(10)), 6)])
    first, second = gen.generate(["q"], [SamplingParams(n=2, max_tokens=1, seed=1)])[0]
    assert (first.prompt_tokens, first.cached_tokens) == (4, 6)
    assert (second.prompt_tokens, second.cached_tokens) == (0, 10)
