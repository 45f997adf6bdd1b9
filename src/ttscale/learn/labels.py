"""PRM training data: the steps of the policy's own samples, labelled good or bad.

Two labellers, both over the same :class:`~ttscale.types.Generator` seam (so on a cluster
they run on vLLM):

* :func:`label_with_checker`: an exact step checker labels every step (the toy world's
  :func:`~ttscale.toyworld.arith.check_steps`).
* :func:`label_with_rollouts`: Math-Shepherd's completion labels, where no checker exists.
  From each step prefix the policy writes ``k`` rollouts; the step is good iff one of them
  reaches the gold answer (the "hard" estimate; ``soft`` keeps the share).

The records are written in two formats: TRL's stepwise supervision (``prompt``,
``completions``, ``labels``), which :mod:`ttscale.learn.trainer` reads, and ProcessBench's
(``problem``, ``steps``, ``label`` = index of the earliest wrong step or -1), which
:mod:`ttscale.learn.prm_eval` reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscale.files import atomic_write_bytes
from ttscale.prompts import STEP_DELIMITER, split_steps
from ttscale.types import Generator, Problem, SamplingParams, derive_seed


@dataclass
class Labelled:
    """One sampled solution: its steps and one label per step (True: the step is good)."""

    problem: str
    steps: list[str]
    labels: list[bool]
    id: str = ""
    soft: list[float] = field(default_factory=list)  # rollouts: the share that reached gold

    @property
    def earliest_error(self) -> int:
        """ProcessBench's label: the index of the first bad step, -1 when all are good."""
        return self.labels.index(False) if False in self.labels else -1

    def to_trl(self) -> dict[str, Any]:
        return {"prompt": self.problem, "completions": self.steps, "labels": self.labels}

    def to_processbench(self, generator: str = "") -> dict[str, Any]:
        return {
            "id": self.id,
            "generator": generator,
            "problem": self.problem,
            "steps": self.steps,
            "final_answer_correct": self.earliest_error == -1,
            "label": self.earliest_error,
        }


def sample_solutions(
    generator: Generator,
    problems: Sequence[Problem],
    prompt: Callable[[Problem], Any],
    *,
    n: int,
    temperature: float,
    max_tokens: int,
    seed: int,
) -> list[list[list[str]]]:
    """``n`` solutions per problem, each as its steps (one generate call for all)."""
    params = [
        SamplingParams(
            n=n,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=derive_seed(seed, p.unique_id, temperature),
        )
        for p in problems
    ]
    outputs = generator.generate([prompt(p) for p in problems], params)
    return [[split_steps(c.text) for c in comps] for comps in outputs]


def label_with_checker(
    problems: Sequence[Problem],
    solutions: Sequence[Sequence[list[str]]],
    check: Callable[[str, list[str]], list[bool]],
) -> list[Labelled]:
    """Label every step of every solution with an exact checker (empty solutions dropped)."""
    out = []
    for p, sols in zip(problems, solutions, strict=True):
        for j, steps in enumerate(sols):
            if steps:
                labels = [bool(x) for x in check(p.problem, steps)]
                out.append(Labelled(p.problem, list(steps), labels, f"{p.unique_id}/{j}"))
    return out


def label_with_rollouts(
    generator: Generator,
    problems: Sequence[Problem],
    solutions: Sequence[Sequence[list[str]]],
    prompt: Callable[[Problem], str],
    is_correct: Callable[[list[str], list[str]], list[bool]],
    *,
    k: int,
    temperature: float,
    max_tokens: int,
    seed: int,
) -> list[Labelled]:
    """Math-Shepherd's completion labels: step i is good iff a rollout from it reaches gold.

    Every step prefix of every solution gets ``k`` rollouts, all in one generate call. The
    last step needs none: the solution itself is its only continuation, graded as is.

    Args:
        prompt: the text a completion continues (the rollout prompt is it + the prefix).
        is_correct: ``(golds, texts) -> verdicts`` for whole solution texts (the grading path:
            extract the final answer and verify it against the gold).
    """
    prefixes: list[tuple[int, int, int]] = []  # (problem, solution, step index)
    texts, params = [], []
    for i, (p, sols) in enumerate(zip(problems, solutions, strict=True)):
        base = prompt(p)
        if not isinstance(base, str):
            raise ValueError(
                "data=rollouts continues partial solutions: use model.endpoint=completions"
            )
        for j, steps in enumerate(sols):
            for s in range(len(steps) - 1):
                prefixes.append((i, j, s))
                done = STEP_DELIMITER.join(steps[: s + 1]) + STEP_DELIMITER
                texts.append(base + done)
                params.append(
                    SamplingParams(
                        n=k,
                        temperature=temperature,
                        max_tokens=max_tokens,
                        seed=derive_seed(seed, p.unique_id, j, s),
                    )
                )
    rollouts = generator.generate(texts, params) if texts else []
    golds, answers, owner = [], [], []
    for (i, j, s), comps in zip(prefixes, rollouts):
        done = STEP_DELIMITER.join(solutions[i][j][: s + 1]) + STEP_DELIMITER
        for c in comps:
            golds.append(problems[i].answer)
            answers.append(done + c.text)
            owner.append((i, j, s))
    for i, (p, sols) in enumerate(zip(problems, solutions)):
        for j, steps in enumerate(sols):
            if steps:  # the last step: the solution itself
                golds.append(p.answer)
                answers.append(STEP_DELIMITER.join(steps))
                owner.append((i, j, len(steps) - 1))
    verdicts = is_correct(golds, answers)
    hits: dict[tuple[int, int, int], list[bool]] = {}
    for key, ok in zip(owner, verdicts):
        hits.setdefault(key, []).append(bool(ok))
    out = []
    for i, (p, sols) in enumerate(zip(problems, solutions)):
        for j, steps in enumerate(sols):
            if not steps:
                continue
            soft = [sum(hits[(i, j, s)]) / len(hits[(i, j, s)]) for s in range(len(steps))]
            labels = [x > 0 for x in soft]
            out.append(Labelled(p.problem, list(steps), labels, f"{p.unique_id}/{j}", soft))
    return out


def write_jsonl(path: str | Path, records: Sequence[dict[str, Any]]) -> None:
    """Records as JSON lines, written atomically."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """JSON lines; a bad line is an error naming the file and line."""
    out = []
    with open(path, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not JSON ({err.msg})") from None
    return out
