"""Prompts: system prompt, chat template, step delimiter."""

from __future__ import annotations

from collections.abc import Sequence

STEP_DELIMITER = "\n\n"

# search-and-learn's default system prompt.
DEFAULT_SYSTEM_PROMPT = (
    "Solve the following math problem efficiently and clearly:\n\n"
    "- For simple problems (2 steps or fewer):\nProvide a concise solution with minimal "
    "explanation.\n\n- For complex problems (3 steps or more):\nUse this step-by-step format:"
    "\n\n## Step 1: [Concise description]\n[Brief explanation and calculations]\n\n"
    "## Step 2: [Concise description]\n[Brief explanation and calculations]\n\n...\n\n"
    "Regardless of the approach, always conclude with:\n\nTherefore, the final answer is: "
    "$\\boxed{answer}$. I hope it is correct.\n\nWhere [answer] is just the final number or "
    "expression that solves the problem."
)


def chat_messages(problem: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The conversation of one problem; ``system_prompt="default"`` is search-and-learn's."""
    if system_prompt == "default":
        system_prompt = DEFAULT_SYSTEM_PROMPT
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": problem}]


def render_chat(
    tokenizer, messages: Sequence[dict[str, str]], template_kwargs: dict | None = None
) -> str:
    """The one text rendering: the tokenizer's chat template with a generation prompt.

    Step-level search appends steps to this string, so every text backend continues plain
    text. ``template_kwargs`` are extra template variables (``model.chat_template_kwargs``).
    A tokenizer without a chat template gets ``system\n\nuser\n``.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True, **(template_kwargs or {})
        )
    return "".join(f"{m['content']}\n\n" for m in messages[:-1]) + f"{messages[-1]['content']}\n"


def build_prompt(
    tokenizer, problem: str, system_prompt: str | None, chat_template_kwargs: dict | None = None
) -> str:
    """A problem's text prompt through ``tokenizer`` (scripts, preflight, benchmarks)."""
    return render_chat(tokenizer, chat_messages(problem, system_prompt), chat_template_kwargs)


def split_steps(text: str) -> list[str]:
    """Non-empty steps of a completion, split on the blank-line delimiter."""
    return [s for s in (p.strip() for p in text.split(STEP_DELIMITER)) if s]
