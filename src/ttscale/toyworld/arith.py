"""The embedded arithmetic world: problems, varied solution paths and an exact step checker.

An expression such as ``12+7*3-45`` is solved one legal move at a time. A move combines one
adjacent pair of operands into its value and writes the shorter expression::

    7*3=21, so 12+21-45

    12+21=33, so 33-45

    33-45=-12

    The answer is \\boxed{-12}

Legal moves: while a ``*`` remains, any ``*`` pair (multiplication binds tighter and is
associative); afterwards the first pair, or any pair preceded by ``+`` (a pair preceded by
``-`` would change the value). Training solutions pick uniformly among legal moves, so the
samples of a tiny model make *different* mistakes and majority voting can help.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ttscale.prompts import split_steps  # noqa: F401  (re-exported: the toy world's step splitter)

STEP_SEP = "\n\n"
ANSWER_PREFIX = "The answer is \\boxed{"
_STEP_RE = re.compile(r"^(-?\d+)([+\-*])(-?\d+)=(-?\d+)(?:, so (\S+))?$")
_ANSWER_RE = re.compile(r"^The answer is \\boxed\{(-?\d+)\}$")


@dataclass(frozen=True)
class Expr:
    """An expression as operand values and the operators between them."""

    values: tuple[int, ...]
    ops: tuple[str, ...]

    def __str__(self) -> str:
        out = [str(self.values[0])]
        for op, v in zip(self.ops, self.values[1:]):
            out += [op, str(v)]
        return "".join(out)

    def legal_moves(self) -> list[int]:
        """Indices i such that combining values[i] ops[i] values[i+1] keeps the value."""
        if "*" in self.ops:
            return [i for i, op in enumerate(self.ops) if op == "*"]
        return [0] + [i for i in range(1, len(self.ops)) if self.ops[i - 1] == "+"]

    def apply(self, i: int) -> tuple[int, Expr]:
        """Combine pair i; return its value and the shorter expression."""
        a, op, b = self.values[i], self.ops[i], self.values[i + 1]
        r = a + b if op == "+" else a - b if op == "-" else a * b
        values = self.values[:i] + (r,) + self.values[i + 2 :]
        return r, Expr(values, self.ops[:i] + self.ops[i + 1 :])

    def value(self) -> int:
        expr = self
        while expr.ops:
            _, expr = expr.apply(expr.legal_moves()[0])
        return expr.values[0]


def parse_expr(text: str) -> Expr:
    """Parse ``12+-5*3``: a number may carry a leading minus at the start or after an operator."""
    tokens = re.findall(r"(?:(?<=^)|(?<=[+\-*]))-?\d+|[+\-*]", text)
    if "".join(tokens) != text or len(tokens) % 2 == 0:
        raise ValueError(f"not an arithmetic expression: {text!r}")
    values = tuple(int(t) for t in tokens[0::2])
    ops = tuple(tokens[1::2])
    if any(op not in "+-*" for op in ops):
        raise ValueError(f"not an arithmetic expression: {text!r}")
    return Expr(values, ops)


def random_expr(rng: random.Random, level: int) -> Expr:
    """A level-L problem has L operators; operands 1-99, a ``*`` takes a right operand 2-9."""
    ops = tuple(rng.choice("+-*") for _ in range(level))
    values = [rng.randint(1, 99)]
    for op in ops:
        values.append(rng.randint(2, 9) if op == "*" else rng.randint(1, 99))
    return Expr(tuple(values), ops)


def problem_text(expr: Expr) -> str:
    return f"Compute {expr}."


def expr_of_problem(problem: str) -> Expr:
    m = re.fullmatch(r"Compute (\S+)\.", problem.strip())
    if not m:
        raise ValueError(f"not an arithmetic problem: {problem!r}")
    return parse_expr(m.group(1))


def step_text(expr: Expr, i: int) -> tuple[str, Expr]:
    r, nxt = expr.apply(i)
    a, op, b = expr.values[i], expr.ops[i], expr.values[i + 1]
    text = f"{a}{op}{b}={r}"
    if nxt.ops:
        text += f", so {nxt}"
    return text, nxt


def solution_steps(expr: Expr, rng: random.Random | None = None) -> list[str]:
    """Steps of one valid solution: random legal order with ``rng``, else leftmost-first."""
    steps = []
    while expr.ops:
        moves = expr.legal_moves()
        text, expr = step_text(expr, rng.choice(moves) if rng else moves[0])
        steps.append(text)
    steps.append(f"{ANSWER_PREFIX}{expr.values[0]}}}")
    return steps


def solution_text(expr: Expr, rng: random.Random | None = None) -> str:
    return STEP_SEP.join(solution_steps(expr, rng))


def check_steps(problem: str, steps: list[str]) -> list[bool]:
    """Label each step: correct iff it is a legal exact move and every earlier step was correct.

    The final answer step is correct iff the expression is fully reduced and the boxed value
    equals it. Any step after the answer is wrong.
    """
    return [ok for ok, _ in _walk(problem, steps)]


def replay(problem: str, steps: list[str]) -> Expr | None:
    """The expression left after ``steps``, or None if one of them is wrong."""
    expr = expr_of_problem(problem)
    for ok, after in _walk(problem, steps):
        if not ok:
            return None
        expr = after
    return expr


def _walk(problem: str, steps: list[str]) -> Iterator[tuple[bool, Expr | None]]:
    """Per step: whether it is correct (a legal exact move after correct ones), and the
    expression after it (None once a step was wrong)."""
    expr: Expr | None = expr_of_problem(problem)
    for raw in steps:
        ok = False
        if expr is not None:
            expr, ok = _check_one(expr, raw.strip())
        if not ok:
            expr = None
        yield ok, expr


def move_of(expr: Expr, step: str) -> int | None:
    """The legal pair that ``step`` combines (whatever result it wrote), or None."""
    m = _STEP_RE.match(step.strip())
    pairs = _pairs(expr, int(m.group(1)), m.group(2), int(m.group(3))) if m else []
    return pairs[0] if pairs else None


def _pairs(expr: Expr, a: int, op: str, b: int) -> list[int]:
    """The legal moves of ``expr`` that combine ``a op b``."""
    return [
        i
        for i in expr.legal_moves()
        if (expr.values[i], expr.ops[i], expr.values[i + 1]) == (a, op, b)
    ]


def _check_one(expr: Expr, step: str) -> tuple[Expr | None, bool]:
    m = _ANSWER_RE.match(step)
    if m:
        done = not expr.ops and int(m.group(1)) == expr.values[0]
        return None, done  # nothing may follow the answer
    m = _STEP_RE.match(step)
    if not m or not expr.ops:
        return None, False
    a, op, b, r = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
    for i in _pairs(expr, a, op, b):
        value, nxt = expr.apply(i)
        written = m.group(5)
        if value == r and (str(nxt) == written if nxt.ops else written is None):
            return nxt, True
    return None, False
