"""The seams of ttscale: sampling parameters, results and the protocols behind them.

This module imports neither torch nor vllm, so ``import ttscale`` works anywhere. Search
approaches see only these types: a :class:`Generator` and a :class:`PRM`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# "confidence": stopped by SamplingParams.min_confidence (DeepConf online)
FinishReason = Literal["stop", "length", "eos", "confidence"]


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one prompt (OpenAI / vLLM names).

    Attributes:
        n: completions to draw for the prompt.
        temperature: 0 means greedy.
        top_p: nucleus mass in (0, 1].
        max_tokens: new tokens at most per completion.
        stop: strings that end a completion; the matched stop string is kept in the text.
        seed: makes the draw reproducible whatever the batch it runs in; sample j of a
            request uses ``derive_seed(seed, j)``.
        logprobs: return each generated token's log-probability (:attr:`Completion.logprobs`).
        top_logprobs: also return, per generated token, the log-probabilities of the k most
            likely tokens (:attr:`Completion.top_logprobs`; 0: none). Confidence scorers read
            them; OpenAI-compatible servers allow at most 20.
        min_confidence: stop the completion (finish reason ``"confidence"``) once the mean
            DeepConf token confidence over its last ``confidence_window`` tokens drops below
            this (needs ``top_logprobs``). Backends that cannot stop mid-completion have
            :func:`ttscale.search.deepconf.generate_stopping` do it in chunks.
        confidence_window: tokens per sliding group for ``min_confidence``.
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    min_confidence: float | None = None
    confidence_window: int = 2048

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        if self.top_logprobs < 0:
            raise ValueError(f"top_logprobs must be >= 0, got {self.top_logprobs}")
        if self.min_confidence is not None and not self.top_logprobs:
            raise ValueError("min_confidence needs top_logprobs (the confidence's candidates)")
        if self.confidence_window < 1:
            raise ValueError(f"confidence_window must be >= 1, got {self.confidence_window}")


@dataclass(frozen=True)
class Completion:
    """One sampled continuation.

    ``logprobs`` (when :attr:`SamplingParams.logprobs` asked for them): the log-probability of
    each generated token (``num_tokens`` of them, an EOS included) under the model's own
    distribution, before temperature and top-p: what a forward pass over the prompt and the
    completion gives. ``top_logprobs`` (when :attr:`SamplingParams.top_logprobs` = k > 0): per
    generated token, the k highest log-probabilities of that distribution, highest first.
    Scorers (confidence, self-certainty) read them.

    ``prompt_tokens`` / ``cached_tokens``: the prompt tokens the backend computed for this
    completion, and those it served from a cache instead (a prefix shared with another sample
    of the same call, or the server's prefix cache). Summed over a call's completions they
    are the call's whole prompt cost, each prompt token counted once: the compute count
    behind the FLOPs columns.
    """

    text: str
    num_tokens: int
    finish_reason: FinishReason
    logprobs: tuple[float, ...] | None = None
    top_logprobs: tuple[tuple[float, ...], ...] | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True)
class ChatPrompt:
    """A conversation, for a server that applies the chat template itself (endpoint=chat).

    Not a string on purpose: a step search appends text to its prompt, and a chat endpoint
    cannot continue a partial answer, so ``ChatPrompt + str`` fails loudly.
    """

    messages: tuple[dict[str, str], ...]
    template_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. Qwen3's enable_thinking


Prompt = str | ChatPrompt  # text to continue, or a conversation


@runtime_checkable
class Generator(Protocol):
    """A text generator: vLLM, transformers or an OpenAI-compatible server.

    Besides :meth:`generate`, the pipeline uses :meth:`render` (messages to the prompt this
    backend takes), :meth:`close` and :meth:`describe`. ``tokenizer`` is the model's
    tokenizer where one is loaded (token counts, prompt lengths), else None.
    """

    tokenizer: Any

    def render(self, messages: Sequence[dict[str, str]], **template_kwargs: Any) -> Prompt:
        """The prompt for a conversation: chat-template text, or a :class:`ChatPrompt`."""
        ...

    def close(self) -> None:
        """Release what the generator holds (a server it started); safe to call twice."""
        ...

    def describe(self) -> dict[str, Any]:
        """What actually ran, for the summary's environment record (no host names, no keys)."""
        ...

    def generate(
        self, prompts: Sequence[Prompt], params: Sequence[SamplingParams]
    ) -> list[list[Completion]]:
        """Sample ``params[i].n`` completions of ``prompts[i]`` for every i.

        Returns one list per prompt, in input order, each of length ``params[i].n``.
        """
        ...


@dataclass
class PRMOutput:
    """Step scores for a batch: ``scores[i][k]`` is P(step k of item i is correct).

    ``num_tokens[i]`` is what the PRM computed for item i: 0 for an item that repeats an
    earlier item of the same call (scored once, its scores copied). ``cached_tokens[i]``:
    its tokens served from the PRM's prefix cache instead (empty: none).
    """

    scores: list[list[float]]
    num_tokens: list[int]
    cached_tokens: list[int] = field(default_factory=list)


@runtime_checkable
class PRM(Protocol):
    """A process reward model."""

    def score(self, questions: Sequence[str], steps: Sequence[Sequence[str]]) -> PRMOutput:
        """Score every step of every (question, steps) pair; one score per step, in order."""
        ...


@dataclass(frozen=True)
class Problem:
    """One dataset row. ``index`` is the row's position in the full dataset."""

    index: int
    unique_id: str
    problem: str
    answer: str
    level: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """What an approach returns for one problem. Columns of the output row.

    ``scores[i]`` are the step scores of completion i (empty when no scorer ran).
    :meth:`charge` adds a generate call's completions to the token counts.
    ``tree`` lists the explored nodes as dicts (id, parent, text, score, temperature, kept).
    """

    completions: list[str]
    scores: list[list[float]]
    temperatures: list[float]
    completion_tokens: list[int]
    generated_tokens: int = 0
    prm_tokens: int = 0
    prompt_tokens: int = 0  # policy prompt tokens computed (after any prefix reuse)
    cached_tokens: int = 0  # policy prompt tokens served from a cache
    prm_cached_tokens: int = 0  # PRM tokens served from a cache (prm_tokens: computed)
    generate_calls: int = 0
    prm_calls: int = 0
    tree: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def charge(self, completions: Sequence[Completion]) -> None:
        """Count what generating ``completions`` cost: generated and prompt tokens."""
        for c in completions:
            self.generated_tokens += c.num_tokens
            self.prompt_tokens += c.prompt_tokens
            self.cached_tokens += c.cached_tokens


def derive_seed(*parts: int | str) -> int:
    """A stable 63-bit seed from parts (problem id, sample index, ...), independent of batching."""
    import hashlib

    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
