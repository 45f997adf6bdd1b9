"""PRM inputs, both formats, per family: the exact strings (search-and-learn's code, read)."""

from __future__ import annotations

import pytest

from ttscale.prm.math_shepherd import MathShepherdPRM, format_input, format_sal, sal_segments
from ttscale.prm.qwen_math import SYSTEM_PROMPT, QwenMathPRM
from ttscale.prm.rlhflow import RLHFlowPRM
from ttscale.prm.skywork import SkyworkPRM
from ttscale.prompts import DEFAULT_SYSTEM_PROMPT

TEXT = "## Step 1: add\n2+2=4\n\n\n\n## Step 2: so\n\\boxed{4}\n\n"  # a blank-line run, a tail
Q = "What is 2+2?"


def _bare(cls, input_format: str, **attrs):
    """A family object without tokenizer or weights: the formats are pure functions of text."""
    prm = cls.__new__(cls)
    prm.input_format = input_format
    for k, v in attrs.items():
        setattr(prm, k, v)
    return prm


def test_math_shepherd_reference_and_sal_strings() -> None:
    ref = _bare(MathShepherdPRM, "reference")
    steps = ref.steps_of(TEXT)
    assert steps == ["## Step 1: add\n2+2=4", "## Step 2: so\n\\boxed{4}"]
    assert format_input(Q, steps) == (
        "What is 2+2? ## Step 1: add\n2+2=4 ки\n\n## Step 2: so\n\\boxed{4} ки"
    )
    sal = _bare(MathShepherdPRM, "sal")
    pieces = sal.steps_of(TEXT)
    assert "".join(pieces) == TEXT and len(pieces) == 3  # the blank-line run is a step
    # search-and-learn: system_prompt + "\n" + question + "\n", " " + the completion with
    # every "\n\n" -> " ки\n\n", and no final " ки" since it ends in "\n\n"
    assert format_sal(Q, pieces, DEFAULT_SYSTEM_PROMPT) == (
        DEFAULT_SYSTEM_PROMPT + "\nWhat is 2+2?\n ## Step 1: add\n2+2=4 ки\n\n ки\n\n"
        "## Step 2: so\n\\boxed{4} ки\n\n"
    )
    assert format_sal(Q, sal_segments("a\n\nb"), "S") == "S\nWhat is 2+2?\n a ки\n\nb ки"
    assert format_sal(Q, sal_segments(""), "S") == "S\nWhat is 2+2?\n  ки"


def test_rlhflow_turns_in_both_formats() -> None:
    ref = _bare(RLHFlowPRM, "reference")
    assert [t["content"] for t in ref.conversation(Q, ref.steps_of(TEXT), "+")] == [
        "What is 2+2? ## Step 1: add\n2+2=4", "+", "## Step 2: so\n\\boxed{4}", "+",
    ]  # fmt: skip
    sal = _bare(RLHFlowPRM, "sal")
    # split on "\n\n" without dropping empty pieces: the blank-line run and the trailing
    # "\n\n" become empty user turns, each with its own "+"
    assert [t["content"] for t in sal.conversation(Q, sal.steps_of(TEXT), "+")] == [
        "What is 2+2? ## Step 1: add\n2+2=4", "+", "", "+",
        "## Step 2: so\n\\boxed{4}", "+", "", "+",
    ]  # fmt: skip


def test_skywork_scores_every_line_in_sal_format_and_steps_in_reference() -> None:
    sal = _bare(SkyworkPRM, "sal", step_tag="\n")
    assert sal.steps_of(TEXT) == ["## Step 1: add", "2+2=4", "", "", "", "## Step 2: so",
                                  "\\boxed{4}", "", ""]  # fmt: skip
    ref = _bare(SkyworkPRM, "reference", step_tag="\n")
    assert len(ref.steps_of(TEXT)) == 2


def test_qwen_math_prm_assistant_turn_in_both_formats() -> None:
    kw = {"step_tag": "<extra_0>", "system_prompt": SYSTEM_PROMPT}
    sal = _bare(QwenMathPRM, "sal", **kw)
    messages = sal.messages(Q, sal.steps_of(TEXT))
    # search-and-learn: answer.replace("\n\n", "<extra_0>") + "<extra_0>"
    assert messages[2]["content"] == TEXT.replace("\n\n", "<extra_0>") + "<extra_0>"
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    ref = _bare(QwenMathPRM, "reference", **kw)
    assert ref.messages(Q, ref.steps_of(TEXT))[2]["content"] == (
        "## Step 1: add\n2+2=4<extra_0>## Step 2: so\n\\boxed{4}<extra_0>"
    )


def test_input_format_is_checked_and_sal_recipes_set_it() -> None:
    from ttscale.config import ConfigError, validate
    from ttscale.sweep.hydra import compose

    with pytest.raises(ConfigError, match="input_format"):
        validate(compose("prm.input_format=model_card"))
    run = validate(compose("+recipe=llama-3.2-1b-instruct/best_of_n"))
    assert run.prm.input_format == "sal" and run.prm.name == "rlhflow"


def test_the_toy_prm_scores_through_the_sal_format(prm_path) -> None:
    prm = MathShepherdPRM(prm_path, input_format="sal", system_prompt="S")
    steps = prm.steps_of("1+2=3\n\n\\boxed{3}")
    out = prm.score(["1+2"], [steps])
    assert len(out.scores[0]) == 2 and all(0 <= s <= 1 for s in out.scores[0])
