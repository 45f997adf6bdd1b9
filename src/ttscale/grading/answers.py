"""Final answers: extraction from a solution's text, and light normalisation.

:func:`extract_answer` takes the last ``\\boxed{}`` (with fallbacks); :func:`normalize_answer`
lets identical-looking answers skip math-verify. Grading itself is :mod:`ttscale.grading`.
"""

from __future__ import annotations

import re

__all__ = ["answer_key", "extract_answer", "normalize_answer"]

# --------------------------------------------------------------------------------------------
# Answer extraction
# --------------------------------------------------------------------------------------------

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_TOKEN_RE = re.compile(r"[^\s${}]+")
_FALLBACK_RES = (
    re.compile(r"final\s+answer\s+is\s*:?", re.IGNORECASE),
    re.compile(r"answer\s+is\s*:?", re.IGNORECASE),
    re.compile(r"answer\s*:", re.IGNORECASE),
)
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)")
_DELIMS = (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"))


def _box_span(text: str, cmd_end: int) -> tuple[str, int] | None:
    """Parse the argument of a box command ending at ``cmd_end``.

    Args:
        text: The full text.
        cmd_end: Index just past ``\\boxed`` / ``\\fbox``.

    Returns:
        ``(content, end_index)``, or None when the argument is missing or its braces never close.
    """
    n = len(text)
    i = cmd_end
    while i < n and text[i].isspace():
        i += 1
    if i >= n:
        return None
    if text[i] != "{":
        if i == cmd_end and not text[i].isdigit() and text[i] not in "-+.":
            return None  # ``\boxed`` glued to something that is not an argument
        m = _BARE_TOKEN_RE.match(text, i)
        return (m.group(0), m.end()) if m else None
    depth = 0
    j = i
    while j < n:
        c = text[j]
        if c == "\\":  # escaped char, e.g. \{ or \}: not a grouping brace
            j += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
        j += 1
    return None


def _strip_delims(s: str) -> str:
    """Remove whitespace and matching outer math delimiters (``$``, ``\\(``, ``\\[``, ``**``)."""
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)].strip()
                changed = True
    return s


def _clean(s: str) -> str:
    """Strip whitespace, outer delimiters and one trailing period."""
    s = _strip_delims(s)
    if s.endswith(".") and not s.endswith(".."):
        s = _strip_delims(s[:-1])
    return s


def _last_box(text: str) -> str | None:
    """Content of the last complete, non-empty top-level ``\\boxed``/``\\fbox`` in ``text``."""
    found: str | None = None
    pos = 0
    while True:
        m = _BOX_RE.search(text, pos)
        if m is None:
            return found
        span = _box_span(text, m.end())
        if span is None:
            pos = m.end()
            continue
        content, pos = span
        content = _clean(content)
        while (inner := _BOX_RE.match(content)) is not None:  # \boxed{\boxed{x}} -> x
            inner_span = _box_span(content, inner.end())
            if inner_span is None or inner_span[1] != len(content):
                break
            content = _clean(inner_span[0])
        if content:
            found = content


def _fallback(text: str) -> str | None:
    """Answer after "final answer is" / "answer is" / "answer:" (last occurrence), if any."""
    for pattern in _FALLBACK_RES:
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        rest = text[matches[-1].end() :].lstrip(" \t*")
        line = rest.split("\n", 1)[0].strip()
        for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if line.startswith(left):
                stripped = line.lstrip("$") if left == "$" else line[len(left) :]
                close = stripped.find(right)
                if close > 0:
                    line = stripped[:close]
                break
        else:
            end = _SENTENCE_END_RE.search(line)
            if end is not None:
                line = line[: end.start()]
        answer = _clean(line.strip("* "))
        if answer:
            return answer
    return None


def extract_answer(text: str | None) -> str | None:
    """Extract the final answer from a model's solution.

    Uses the content of the last ``\\boxed{...}`` (nested braces and ``\\fbox{}`` handled; also
    ``\\boxed 5``). Without a box, falls back to "final answer is $X$" / "The final answer is X",
    then "The answer is X", then "Answer: X".

    Args:
        text: The generated solution.

    Returns:
        The answer, stripped of whitespace, outer ``$`` and a trailing period; None if not found.
    """
    if not text:
        return None
    boxed = _last_box(text)
    return boxed if boxed is not None else _fallback(text)


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

_LATEX_SPACE_RE = re.compile(r"\\[,;:! ]|\\q?quad(?![A-Za-z])|\\(?:left|right)(?![A-Za-z])")
_WS_RE = re.compile(r"\s+")
# A space between two letters or digits can carry meaning ("4 2", "\cdot x"); any other
# space cannot ("x + 1", "\frac {1}{2}"), so only those are removed.
_SAFE_SPACE_RE = re.compile(r" (?![A-Za-z0-9])|(?<![A-Za-z0-9]) ")


def normalize_answer(s: str) -> str:
    """Lightly normalise an answer for exact-match fast paths.

    Strips outer ``$`` (and ``\\(...\\)``) and one trailing period, turns LaTeX spacing
    commands into spaces, drops ``\\left``/``\\right``, collapses whitespace, removes the
    spaces that cannot carry meaning (any not between two letters or digits) and maps
    ``\\dfrac``/``\\tfrac`` to ``\\frac``. Two answers equal after this are the same
    expression, so they may skip math-verify; this never decides that two answers differ.
    ``"4 2"`` stays apart from ``"42"``: math-verify rejects that pair.

    Args:
        s: An answer string.

    Returns:
        The normalised string ("" for an empty answer).
    """
    s = _clean(s)
    s = _LATEX_SPACE_RE.sub(" ", s)
    s = _WS_RE.sub(" ", s).strip()
    s = _SAFE_SPACE_RE.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    if s.endswith(".") and not s.endswith(".."):
        s = s[:-1]
    return s


def answer_key(text: str) -> str | None:
    """A completion's vote on the fast path: its normalised extracted answer, None for none
    (an empty answer included)."""
    a = extract_answer(text)
    return (normalize_answer(a) or None) if a else None


def _to_parse_input(s: str) -> str:
    """Wrap an answer so that math-verify's LaTeX extractor sees it (``$...$``)."""
    if "\\boxed" in s or "\\fbox" in s:
        return s
    return f"${_strip_delims(s)}$"
