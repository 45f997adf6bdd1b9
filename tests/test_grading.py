"""Tests for ttscale.grading: extraction, math-verify grading in workers, caches, timeouts."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time

import pytest

from ttscale.grading import Grader, extract_answer, grade_answers, normalize_answer

POWER_TOWER = "2^{2^{2^{2^{2^{2^{2^{2}}}}}}}"


def _nested_frac(depth: int) -> str:
    s = "1"
    for _ in range(depth):
        s = rf"\frac{{{s}}}{{2}}"
    return s


@pytest.fixture(scope="module")
def grader():
    # timeout 10 (math-verify's own alarms at 5 s): a legitimate first parse can take seconds
    # on a loaded CI machine, and a timeout would grade it wrong.
    with Grader(num_workers=2, timeout=10) as g:
        yield g


# -- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"So $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"first \boxed{1}, then \boxed{2}, finally \boxed{\{3, 4\}}", r"\{3, 4\}"),
        (r"The result is \boxed 5.", "5"),
        (r"$\boxed -7$", "-7"),
        (r"\fbox{12}", "12"),
        (r"\boxed{\boxed{9}}", "9"),
        (r"\boxed{ 42. }", "42"),
        (r"\boxed{3} and then a cut-off \boxed{\frac{1}{", "3"),
        ("The final answer is $\\frac{3}{4}$. I hope it is correct.", r"\frac{3}{4}"),
        ("Thus, the final answer is 3.5. Done.", "3.5"),
        ("So the answer is 42.", "42"),
        ("reasoning...\nAnswer: 17", "17"),
        ("no answer here", None),
        ("", None),
        (r"\boxed{}", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_normalize_answer() -> None:
    assert normalize_answer(r" $\dfrac{1}{2}$. ") == normalize_answer(r"\frac{1} {2}")
    assert normalize_answer(r"\left( 1, 2 \right)") == "(1,2)"
    assert normalize_answer("1,2,...") == "1,2,..."  # an ellipsis is not a trailing period
    assert normalize_answer("  ") == ""


# -- grading ----------------------------------------------------------------------------------


def test_equivalent_forms_are_correct(grader: Grader) -> None:
    pairs = [
        (r"\frac{1}{2}", "0.5"),
        ("0.5", r"\frac{1}{2}"),
        (r"\frac12", r"\dfrac12"),
        (r"\frac{1}{2}", r"\tfrac{1}{2}"),
        (r"2\sqrt{2}", r"\sqrt{8}"),
        ("10", "10.0"),
        ("-12", "-12"),
        (r"\{1,2\}", "1,2"),
        (r"$\text{(B)}$", "B"),
    ]
    golds, answers = zip(*pairs)
    assert grader.grade(golds, answers) == [True] * len(pairs)


def test_wrong_answers_are_incorrect(grader: Grader) -> None:
    golds = ["3", r"\frac{1}{2}", r"2\sqrt{2}", "-12", "10", r"\{1,2\}"]
    answers = ["4", "0.25", r"\sqrt{2}", "12", "100", "1"]
    assert grader.grade(golds, answers) == [False] * len(golds)


def test_grading_is_gold_first(grader: Grader) -> None:
    # math-verify accepts an interval for an inequality gold, but not the other way round.
    assert grader.grade([r"1 \le x \le 2"], ["[1,2]"]) == [True]
    assert grader.grade(["[1,2]"], [r"1 \le x \le 2"]) == [False]


def test_none_answer_is_false_without_math_verify(grader: Grader) -> None:
    before = grader.stats.mv_calls
    nones = grader.stats.none_answers
    assert grader.grade(["5", "5"], [None, None]) == [False, False]
    assert grader.stats.mv_calls == before
    assert grader.stats.none_answers == nones + 2


def test_fast_path_skips_math_verify(grader: Grader) -> None:
    before = grader.stats.mv_calls
    assert grader.grade([r"\frac{1}{2}", "7"], [r" $\dfrac{1}{2}$ ", "7."]) == [True, True]
    assert grader.grade(["7"], [""]) == [False]
    assert grader.stats.mv_calls == before


def test_length_mismatch_raises(grader: Grader) -> None:
    with pytest.raises(ValueError):
        grader.grade(["1", "2"], ["1"])


def test_cache_and_in_call_dedup() -> None:
    golds = ["5"] * 6 + [r"\frac{1}{3}"] * 4 + ["2"]
    answers = ["5.0"] * 6 + ["0.5"] * 4 + ["3"]
    with Grader(num_workers=1) as g:
        first = g.grade(golds, answers)
        assert first == [True] * 6 + [False] * 5
        assert g.stats.mv_calls == 3  # three distinct pairs, each graded once
        assert g.stats.duplicates == 8
        second = g.grade(golds, answers)
        assert second == first
        assert g.stats.mv_calls == 3  # nothing new reached math-verify
        assert g.stats.cache_hits == len(golds)


def test_persistent_cache(tmp_path) -> None:
    path = tmp_path / "sub" / "verdicts.json"
    golds = [r"\frac{1}{2}", "3", r"2\sqrt{2}"]
    answers = ["0.5", "4", r"\sqrt{8}"]
    with Grader(num_workers=1, cache_path=path) as g:
        expected = g.grade(golds, answers)
        assert g.cluster(["1/2", "0.5", "3"]) == [0, 0, 1]
    assert expected == [True, False, True]
    data = json.loads(path.read_text())
    assert len(data["grade"]) == 3
    assert not [p for p in os.listdir(path.parent) if p.endswith(".tmp")]

    with Grader(num_workers=1, cache_path=path) as g:
        assert g.grade(golds, answers) == expected
        assert g.cluster(["1/2", "0.5", "3"]) == [0, 0, 1]
        assert g.stats.mv_calls == 0
        assert g._pool.workers == []  # everything came from the file: no worker was started


def test_corrupt_cache_file_is_ignored(tmp_path) -> None:
    path = tmp_path / "verdicts.json"
    path.write_text("{not json")
    with Grader(num_workers=1, cache_path=path) as g:
        assert g.grade(["2"], ["2.0"]) == [True]
    assert json.loads(path.read_text())["grade"] == [["2", "2.0", True]]


def test_grade_answers_convenience() -> None:
    assert grade_answers(["10", "10"], ["10.0", None], num_workers=1) == [True, False]


# -- clustering -------------------------------------------------------------------------------


def test_cluster_labels(grader: Grader) -> None:
    answers = ["1/2", "0.5", None, "3", r"\frac{1}{2}", "3.0", "x", "0.5", r"\dfrac12"]
    assert grader.cluster(answers) == [0, 0, -1, 1, 0, 1, 2, 0, 0]
    assert grader.cluster([]) == []
    assert grader.cluster([None]) == [-1]


def test_cluster_identical_strings_skip_math_verify(grader: Grader) -> None:
    before = grader.stats.mv_calls
    assert grader.cluster(["17", " 17", "$17$", None]) == [0, 0, 0, -1]
    assert grader.stats.mv_calls == before


def test_cluster_many_matches_cluster(grader: Grader) -> None:
    groups = [["2", "2.0", "3"], [r"\sqrt{4}", "4", "2", "4.0"], []]
    assert grader.cluster_many(groups) == [[0, 0, 1], [0, 1, 0, 1], []]
    assert grader.equivalent(r"\frac{2}{4}", "0.5")
    assert not grader.equivalent("2", "3")


# -- robustness -------------------------------------------------------------------------------


def test_pathological_answer_times_out_and_grader_recovers() -> None:
    # math_verify_timeout=0 turns math-verify's own alarms off, so only the watchdog can stop
    # these items: each must be killed after ~1 s and its worker replaced.
    with Grader(num_workers=1, timeout=1.0, math_verify_timeout=0) as g:
        g.start()
        start = time.monotonic()
        verdicts = g.grade(["5", "5", "5"], [POWER_TOWER, "5.0", _nested_frac(2000)])
        elapsed = time.monotonic() - start
        assert verdicts == [False, True, False]
        assert elapsed < 15
        assert g.stats.timeouts == 2
        assert g.stats.restarts == 2
        # The replacement worker grades normally.
        assert g.grade(["2", r"\frac{1}{2}"], ["2.0", "0.25"]) == [True, False]


def test_pathological_answer_with_default_alarms_is_bounded() -> None:
    with Grader(num_workers=1, timeout=1.0) as g:
        g.start()
        start = time.monotonic()
        assert g.grade(["5"], [POWER_TOWER]) == [False]
        assert time.monotonic() - start < 10
        assert g.grade(["3"], ["3.0"]) == [True]


def test_dead_worker_is_replaced() -> None:
    with Grader(num_workers=1) as g:
        g.start()
        proc = g._pool.workers[0].proc
        os.kill(proc.pid, signal.SIGKILL)  # a worker this test started
        proc.join(5)
        assert g.grade(["4", "4"], ["4.0", "5"]) == [True, False]
        assert g.stats.restarts == 1
        assert g.stats.crashes == 0


def _save_verdicts(path: str, gold: str, answers: list[str]) -> None:
    """In a separate process: grade and save into the shared cache file."""
    with Grader(num_workers=1, cache_path=path) as g:
        g.grade([gold] * len(answers), answers)


def test_concurrent_cache_writers_lose_nothing(tmp_path) -> None:
    import multiprocessing as mp

    path = str(tmp_path / "verdicts.json")
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_save_verdicts, args=(path, str(k), [f"{k}.0", f"{k + 1}"]))
        for k in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    grade = {(g, a): v for g, a, v in json.loads((tmp_path / "verdicts.json").read_text())["grade"]}
    assert grade == {
        (str(k), a): a.endswith(".0") for k in range(3) for a in (f"{k}.0", f"{k + 1}")
    }


def test_pathological_answers_graded_wrong_and_timed_out_once() -> None:
    """Issue 8: a power tower, deeply nested LaTeX and a giant factorial cannot hang grading.

    Each times out once (watchdog only: math-verify's own alarms are off); the same answer
    against other golds is then graded False without another timeout.
    """
    bad = [POWER_TOWER, _nested_frac(2000), "1000000000!"]
    with Grader(num_workers=1, timeout=1.0, math_verify_timeout=0) as g:
        g.start()
        start = time.monotonic()
        verdicts = g.grade(["5"] * 3 + ["7"] * 3 + ["5"], bad + bad + ["5.0"])
        assert verdicts == [False] * 6 + [True]
        assert time.monotonic() - start < 30
        assert g.stats.timeouts <= 3 and g.stats.known_slow + g.stats.timeouts >= 4
        # clustering never compares a known-slow answer: no new timeout
        timeouts = g.stats.timeouts
        labels = g.cluster(["3", bad[0], "3.0"])
        assert labels[0] == labels[2] and labels[1] not in (labels[0], -1)
        assert g.stats.timeouts == timeouts


# -- one verdict per cluster, order-independent clusters, safe fast path ------------------------


def _partition(labels: list[int], answers: list[str]) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for label, a in zip(labels, answers):
        groups.setdefault(label, set()).add(a)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize(
    ("gold", "answers"),
    [("[2,5)", ["[2,5)", r"2\le x<5"]), ("x=3", ["3", "y=3"]), ("3", ["x=3", "3", "y=3"])],
)
def test_a_cluster_never_mixes_verdicts(grader: Grader, gold, answers) -> None:
    for perm in itertools.permutations(answers):
        (labels,), (correct,) = grader.grade_and_cluster([gold], [list(perm)])
        verdict: dict[int, bool] = {}
        for label, ok in zip(labels, correct):
            assert verdict.setdefault(label, ok) == ok, (perm, labels, correct)
        # each answer keeps its own math-verify verdict: nothing is guessed
        assert correct == grader.grade([gold] * len(perm), list(perm))


def test_clusters_do_not_depend_on_completion_order(grader: Grader) -> None:
    # math-verify is not transitive here: x=3 ~ 3 and 3 ~ y=3, but x=3 !~ y=3
    answers = ["x=3", "3", "y=3", "3", r"\frac{6}{2}", "4"]
    partitions = {
        frozenset(_partition(grader.cluster(list(p)), list(p)))
        for p in itertools.permutations(answers)
    }
    assert len(partitions) == 1


def test_spaces_between_digits_are_not_normalised_away(grader: Grader) -> None:
    assert normalize_answer("4 2") != normalize_answer("42")
    assert normalize_answer(r"\cdot x") == r"\cdot x"
    assert normalize_answer(r"x + \frac {1}{2}") == r"x+\frac{1}{2}"
    assert grader.grade(["42"], [extract_answer(r"so \boxed{4 2}")]) == [False]


@pytest.mark.parametrize(
    ("a", "b"),
    [(r"$\dfrac{1}{2}$.", r"\frac{1}{2}"), (r"\left( 1, 2 \right)", "(1, 2)"),
     ("x + 1", "x+1"), (r"2\,000", r"2\;000"), (r"\frac {3}{4}", r"\tfrac{3}{4}")],
)  # fmt: skip
def test_the_fast_path_only_merges_what_math_verify_accepts(grader: Grader, a, b) -> None:
    assert normalize_answer(a) == normalize_answer(b)
    assert grader._pool.run([("e", a, b)], grader.stats) == [True]  # math-verify itself


def test_a_pool_closed_during_its_background_start_leaves_no_worker() -> None:
    """close() waits for a background start, then stops what it started: no worker may come
    up after the run has ended (it would write a BrokenPipe traceback to a closed parent)."""
    import multiprocessing
    import threading

    before = set(multiprocessing.active_children())  # other tests' graders
    g = Grader(num_workers=2)
    g.start(background=True)
    g.close()  # at once, as a run that fails right after starting its pool
    assert not any(t.name == "grader-start" for t in threading.enumerate())
    assert g._pool.workers == []
    assert set(multiprocessing.active_children()) <= before
