"""Prompts: system prompt, chat template, step delimiter."""

from __future__ import annotations

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


def build_prompt(
    tokenizer, problem: str, system_prompt: str | None, chat_template_kwargs: dict | None = None
) -> str:
    """The text a completion continues: the chat template with a generation prompt.

    Step-level search appends steps to this string, so every backend continues plain text.
    ``chat_template_kwargs`` are extra template variables (``model.chat_template_kwargs``).
    """
    if system_prompt == "default":
        system_prompt = DEFAULT_SYSTEM_PROMPT
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": problem})
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, **(chat_template_kwargs or {})
        )
    head = f"{system_prompt}\n\n" if system_prompt else ""
    return f"{head}{problem}\n"


def split_steps(text: str) -> list[str]:
    """Non-empty steps of a completion, split on the blank-line delimiter."""
    return [s for s in (p.strip() for p in text.split(STEP_DELIMITER)) if s]
