import random

import pytest

# imported as a module: pytest would collect the functions test_split / test_texts as tests
from ttscale.toyworld import problems as toy
from ttscale.toyworld.arith import (
    Expr,
    check_steps,
    parse_expr,
    problem_text,
    random_expr,
    solution_steps,
    split_steps,
)
from ttscale.toyworld.problems import train_stream


def test_test_split_is_deterministic_and_balanced():
    rows = toy.test_split()
    assert len(rows) == 500
    assert [sum(r["level"] == lvl for r in rows) for lvl in range(1, 6)] == [100] * 5
    assert len({r["problem"] for r in rows}) == 500
    assert len({r["unique_id"] for r in rows}) == 500
    assert rows[0]["problem"] == toy.test_split.__wrapped__()[0]["problem"]  # recomputed, same
    assert set(rows[0]) >= {"problem", "solution", "answer", "level", "unique_id"}


def test_level_is_number_of_operators_and_operands_in_range():
    rng = random.Random(0)
    for level in range(1, 6):
        for _ in range(200):
            e = random_expr(rng, level)
            assert len(e.ops) == level
            for op, v in zip(e.ops, e.values[1:]):
                assert (2 <= v <= 9) if op == "*" else (1 <= v <= 99)
            assert 1 <= e.values[0] <= 99


def test_training_stream_never_yields_a_test_problem():
    held = toy.test_texts()
    stream = train_stream(0, levels=(1,))  # level 1 is small enough for collisions to happen
    assert all(problem_text(next(stream)[0]) not in held for _ in range(20000))


def test_solutions_are_correct_and_orders_vary():
    rng = random.Random(1)
    e = parse_expr("64+98*9+61-84+49")
    paths = {tuple(solution_steps(e, rng)) for _ in range(50)}
    assert len(paths) > 3  # several valid orders
    for steps in paths:
        assert all(check_steps(problem_text(e), list(steps)))
        assert steps[-1] == "The answer is \\boxed{972}"


def test_legal_moves_respect_precedence_and_minus():
    assert Expr((1, 2, 3), ("-", "+")).legal_moves() == [0]  # 2+3 after a minus is illegal
    assert Expr((1, 2, 3), ("+", "-")).legal_moves() == [0, 1]
    assert Expr((1, 2, 3, 4), ("+", "*", "*")).legal_moves() == [1, 2]


@pytest.mark.parametrize(
    "steps,labels",
    [
        (["2*3=6, so 1+6", "1+6=7", "The answer is \\boxed{7}"], [True, True, True]),
        (["1+2=3, so 3*3", "3*3=9", "The answer is \\boxed{9}"], [False, False, False]),
        (["2*3=7, so 1+7", "1+7=8", "The answer is \\boxed{8}"], [False, False, False]),
        (["2*3=6, so 1+5", "1+5=6"], [False, False]),  # copy error in the rewrite
        (["2*3=6, so 1+6", "The answer is \\boxed{7}"], [True, False]),  # answer too early
        (
            ["2*3=6, so 1+6", "1+6=7", "The answer is \\boxed{7}", "1+1=2"],
            [True, True, True, False],
        ),
        (["garbage"], [False]),
    ],
)
def test_step_checker(steps, labels):
    assert check_steps("Compute 1+2*3.", steps) == labels


def test_negative_numbers_parse_and_check():
    e = parse_expr("10+-5")
    assert e.values == (10, -5) and e.value() == 5
    steps = solution_steps(parse_expr("10+3-8"), random.Random(4))
    assert all(check_steps("Compute 10+3-8.", steps))
    assert split_steps("a\n\n\n\nb\n\n") == ["a", "b"]


def test_any_prefix_of_the_test_split_is_level_balanced():
    levels = [r["level"] for r in toy.test_split()[:100]]
    assert [levels.count(lvl) for lvl in range(1, 6)] == [20] * 5
