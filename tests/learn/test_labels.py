"""The PRM data labellers: exact checker, Math-Shepherd rollouts (scripted doubles), formats."""

from __future__ import annotations

from ttscale.grading import extract_answer
from ttscale.learn.labels import Labelled, label_with_checker, label_with_rollouts
from ttscale.types import Completion, Problem, SamplingParams


class RolloutGenerator:
    """Continues ``"<uid>|<prefix>"``: from a prefix holding "slip", no rollout reaches the
    gold 5; otherwise rollout j reaches it iff j < hits (the same for every prefix)."""

    def __init__(self, hits: int) -> None:
        self.hits = hits
        self.calls: list[list[tuple[str, SamplingParams]]] = []

    def generate(self, prompts, params):
        self.calls.append(list(zip(prompts, params)))
        out = []
        for prompt, p in zip(prompts, params):
            bad = "slip" in prompt
            texts = [f"\\boxed{{{5 if (j < self.hits and not bad) else 0}}}" for j in range(p.n)]
            out.append([Completion(t, len(t), "eos") for t in texts])
        return out


def exact(golds, texts):
    return [extract_answer(t) == g for g, t in zip(golds, texts)]


PROBLEMS = [Problem(0, "p0", "question 0", "5")]


def test_a_step_is_good_iff_a_rollout_from_it_reaches_gold() -> None:
    sols = [[["a", "slip", "c", "\\boxed{0}"], ["a", "b", "\\boxed{5}"], []]]
    gen = RolloutGenerator(hits=1)
    out = label_with_rollouts(gen, PROBLEMS, sols, lambda p: f"{p.unique_id}|", exact,
                              k=4, temperature=0.8, max_tokens=32, seed=0)  # fmt: skip
    assert [r.labels for r in out] == [[True, False, False, False], [True, True, True]]
    assert out[0].soft == [0.25, 0.0, 0.0, 0.0] and out[1].soft == [0.25, 0.25, 1.0]
    assert (out[0].earliest_error, out[1].earliest_error) == (1, -1)
    (call,) = gen.calls  # one generate call; the last step of each solution needs none
    assert [prompt for prompt, _ in call] == [
        "p0|a\n\n",
        "p0|a\n\nslip\n\n",
        "p0|a\n\nslip\n\nc\n\n",
        "p0|a\n\n",
        "p0|a\n\nb\n\n",
    ]
    assert all(p.n == 4 for _, p in call) and len({p.seed for _, p in call}) == 5


def test_soft_labels_count_the_share_of_rollouts_that_reach_gold() -> None:
    out = label_with_rollouts(RolloutGenerator(hits=3), PROBLEMS, [[["a", "\\boxed{5}"]]],
                              lambda p: "p0|", exact, k=4, temperature=1.0, max_tokens=8, seed=1)  # fmt: skip
    assert out[0].soft == [0.75, 1.0] and out[0].labels == [True, True]


def test_the_checker_labels_every_step_and_drops_empty_solutions() -> None:
    from ttscale.toyworld.arith import check_steps

    p = Problem(0, "t0", "Compute 2+3*2.", "8")
    sols = [[["3*2=6, so 2+6", "2+6=8", "The answer is \\boxed{8}"], ["3*2=7, so 2+7"], []]]
    out = label_with_checker([p], sols, check_steps)
    assert [r.labels for r in out] == [[True, True, True], [False]]
    assert [r.id for r in out] == ["t0/0", "t0/1"]


def test_records_in_trl_and_processbench_formats() -> None:
    r = Labelled("Compute 1+1.", ["1+1=3", "x"], [False, False], "u/0")
    assert r.to_trl() == {
        "prompt": "Compute 1+1.",
        "completions": ["1+1=3", "x"],
        "labels": [False, False],
    }
    pb = r.to_processbench("toy-policy")
    assert (pb["label"], pb["final_answer_correct"], pb["steps"]) == (0, False, ["1+1=3", "x"])
