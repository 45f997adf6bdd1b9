"""Deterministic test doubles for step-level search: a scripted generator and a scripted PRM.

Prompts are ``"<uid>|"``, so a request's text tells its problem and its prefix. A step's
text is ``"<depth>:<value>\\n\\n"`` where value (0-99) comes from the request's seed; step
``depth == length - 1`` is the answer ``"\\boxed{<value>}"`` ending with EOS, and a final
(stop-less) request answers at once. A token is a character. The PRM scores a step
``value / 100`` unless a test passes its own rule, and counts characters as tokens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ttscale.search.base import Context
from ttscale.types import Completion, PRMOutput, Problem, SamplingParams

SEP = "\n\n"


def problems(k: int) -> list[Problem]:
    return [Problem(i, f"p{i}", f"question {i}", "0") for i in range(k)]


def split(prompt: str) -> tuple[str, str]:
    """(problem id, solution prefix) of a prompt built by :func:`context`."""
    uid, prefix = prompt.split("|", 1)
    return uid, prefix


def depth(prefix: str) -> int:
    return prefix.count(SEP)


def value(step: str) -> int:
    """The value written in a scripted step (the answer's boxed number for the last one)."""
    text = step.strip()
    if text.startswith("\\boxed{"):
        return int(text[len("\\boxed{") : -1])
    return int(text.split(":")[1].split("@")[0])


class ScriptedGenerator:
    """Writes ``length`` steps per solution; ``script`` may override any step.

    ``script(uid, prefix, params) -> (text, finish) | None``; None falls back to the default.
    Every call is recorded, with the tokens emitted per problem.
    """

    def __init__(
        self, length: int = 3, script: Callable | None = None, show_temperature: bool = False
    ) -> None:
        self.length = length
        self.script = script
        self.show_temperature = show_temperature
        self.calls: list[list[tuple[str, SamplingParams]]] = []
        self.tokens: Counter[str] = Counter()

    def generate(self, prompts: Sequence[str], params: Sequence[SamplingParams]):
        self.calls.append(list(zip(prompts, params)))
        out = []
        for prompt, p in zip(prompts, params):
            uid, prefix = split(prompt)
            got = self.script(uid, prefix, p) if self.script else None
            text, finish = got if got is not None else self._default(prefix, p)
            tokens = max(1, len(text) + (finish == "eos"))
            tokens = min(tokens, p.max_tokens)
            self.tokens[uid] += tokens
            out.append([Completion(text, tokens, finish)] * p.n)
        return out

    def _default(self, prefix: str, p: SamplingParams) -> tuple[str, str]:
        v = p.seed % 100 if p.seed is not None else 0
        if not p.stop or depth(prefix) >= self.length - 1:
            return f"\\boxed{{{v}}}", "eos"
        tag = f"@{p.temperature:g}" if self.show_temperature else ""
        return f"{depth(prefix)}:{v}{tag}{SEP}", "stop"


class ScriptedPRM:
    """Scores step k of a solution with ``rule(question, steps[: k + 1])``; default value/100."""

    def __init__(self, rule: Callable[[str, list[str]], float] | None = None) -> None:
        self.rule = rule or (lambda q, steps: value(steps[-1]) / 100)
        self.calls: list[int] = []
        self.tokens: Counter[str] = Counter()

    def score(self, questions, steps) -> PRMOutput:
        self.calls.append(len(questions))
        scores, tokens = [], []
        for q, s in zip(questions, steps):
            scores.append([self.rule(q, list(s[: k + 1])) for k in range(len(s))])
            tokens.append(len(q) + sum(len(x) for x in s))
            self.tokens[q] += tokens[-1]
        return PRMOutput(scores, tokens)


def context(
    gen,
    prm,
    *,
    n: int = 4,
    temperatures=None,
    max_tokens: int = 1000,
    agg: str = "last",
    seed: int = 0,
) -> Context:
    from ttscale.scorers import PRMScorer

    return Context(
        generator=gen,
        scorer=PRMScorer(prm) if prm is not None else None,
        prompt=lambda p: f"{p.unique_id}|",
        n=n,
        temperatures=temperatures or (lambda k: [0.8] * k),
        top_p=1.0,
        max_tokens=max_tokens,
        seed=seed,
        agg_strategy=agg,
    )


def prompts_of(call, uid: str) -> list[str]:
    """The prefixes a generate call continued for one problem."""
    return [split(prompt)[1] for prompt, _ in call if split(prompt)[0] == uid]
