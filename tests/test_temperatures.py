"""Temperature schedules: assignment, validation, naming, the prefix bias, and real runs."""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction
from itertools import groupby
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import compose
from ttscale.config import ConfigError, validate
from ttscale.metrics import problem_metrics
from ttscale.search.sampling import sample_early
from ttscale.storage.naming import run_name
from ttscale.temperatures import (
    HNC,
    Cycle,
    Early,
    Grid,
    Single,
    interleave,
    parse_grid,
)
from ttscale.types import Completion

RATIOS = [
    [0.5, 0.5],
    [0.25, 0.75],
    [0.1, 0.9],
    [0.2, 0.3, 0.5],
    [0.57, 0.29, 0.14],
    [0.05, 0.15, 0.3, 0.5],
    [1 / 3, 1 / 3, 1 / 3],
    [0.0, 0.4, 0.6],
    # x/64: here the plain largest-deficit rule misses a prefix target by more than one
    [0.015625, 0.296875, 0.296875, 0.0625, 0.03125, 0.296875],
]


def hotncold_assignment(temps, ratios, n):
    """hotncold's get_temperature_assignment, for comparison (float arithmetic included)."""
    out = []
    for t, r in zip(temps, ratios):
        out += [t] * int(n * r)
    while len(out) < n:
        i = ratios.index(max(ratios))
        out.insert(sum(int(n * r) for r in ratios[: i + 1]), temps[i])
    return out


def temps_for(ratios):
    return [round(0.2 * (i + 1), 1) for i in range(len(ratios))]


# --------------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------------


def test_single_slots_and_name():
    s = Single(temperature=0.8)
    assert s.slots(3) == [0.8, 0.8, 0.8]
    assert s.name_part() == "T-0.8"
    assert Single(temperature=1.0).name_part() == "T-1.0"  # hotncold writes str(float)


@pytest.mark.parametrize("ratios", RATIOS)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 10, 16, 33, 64, 100])
def test_interleaved_counts_are_proportional_in_every_prefix(ratios, n):
    temps = temps_for(ratios)
    slots = HNC(temperatures=temps, ratios=ratios).slots(n)
    assert len(slots) == n
    exact = [Fraction(str(r)) for r in ratios]
    exact = [r / sum(exact) for r in exact]
    seen = Counter()
    for m, t in enumerate(slots, 1):
        seen[t] += 1
        for temp, r in zip(temps, exact):
            assert abs(seen[temp] - r * m) < 1, (m, temp, seen)
    # so the totals are n * ratio rounded down or up
    for temp, r in zip(temps, exact):
        assert math.floor(r * n) <= seen[temp] <= math.ceil(r * n)


@pytest.mark.parametrize("ratios", RATIOS)
@pytest.mark.parametrize("n", [1, 3, 7, 8, 10, 16, 33, 64])
def test_blocked_reproduces_hotncold(ratios, n):
    temps = temps_for(ratios)
    slots = HNC(temperatures=temps, ratios=ratios, order="blocked").slots(n)
    ours = Counter(slots)
    theirs = Counter(hotncold_assignment(temps, ratios, n))
    exact = [Fraction(str(r)) for r in ratios]
    floors = [math.floor(n * r / sum(exact)) for r in exact]
    if floors == [int(n * r) for r in ratios]:  # no float drift: identical to the anchor
        assert slots == hotncold_assignment(temps, ratios, n)
    # contiguous blocks in temperature order, the remainder on the largest ratio
    assert [t for t, _ in groupby(slots)] == [t for t in temps if ours[t]]
    largest = temps[ratios.index(max(ratios))]
    for t, f in zip(temps, floors):
        assert ours[t] == f + (n - sum(floors) if t == largest else 0)
    assert sum(theirs.values()) == n


def test_blocked_fixes_hotncolds_float_drift():
    # int(100 * 0.29) == 28 in floats, so hotncold gives the lost slot to 0.57's block.
    temps, ratios = [0.2, 0.4, 0.6], [0.57, 0.29, 0.14]
    assert Counter(hotncold_assignment(temps, ratios, 100)) == {0.2: 58, 0.4: 28, 0.6: 14}
    assert HNC(temperatures=temps, ratios=ratios, order="blocked").counts(100) == [57, 29, 14]


def test_blocked_remainder_goes_to_largest_ratio():
    assert HNC(temperatures=[0.4, 0.8], ratios=[0.25, 0.75], order="blocked").slots(7) == [
        0.4,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
    ]
    # a tie for the largest ratio: the first one (hotncold's list.index(max))
    assert HNC(temperatures=[0.4, 0.8], ratios=[0.5, 0.5], order="blocked").slots(3) == [
        0.4,
        0.4,
        0.8,
    ]
    assert HNC(temperatures=[0.1, 0.5, 0.9], ratios=[0.2, 0.3, 0.5], order="blocked").counts(9) == [
        1,
        2,
        6,
    ]


def test_without_ratios_temperatures_cycle_in_both_orders():
    for order in ("interleaved", "blocked"):
        assert HNC(temperatures=[0.2, 0.6, 1.0], order=order).slots(7) == [
            0.2,
            0.6,
            1.0,
            0.2,
            0.6,
            1.0,
            0.2,
        ]


def test_interleave_equal_ratios_is_a_cycle_and_uneven_ratios_spread():
    assert interleave([Fraction(1, 3)] * 3, 7) == [0, 1, 2, 0, 1, 2, 0]
    seq = interleave([Fraction(1, 4), Fraction(3, 4)], 8)
    assert seq.count(0) == 2 and seq[:4].count(0) == 1  # one low slot in each half


def test_grid_parses_ranges_exactly():
    values = parse_grid("0.0:1.2:0.1")
    assert len(values) == 13
    assert [repr(v) for v in values] == [repr(i / 10) for i in range(13)]
    assert values[3] == 0.3  # not 0.30000000000000004
    assert parse_grid("0:1:0.3") == [0.0, 0.3, 0.6, 0.9]
    assert parse_grid("0.8:0.8:0.1") == [0.8]
    for bad in ("0.0:1.2", "a:b:c", "0:1:0", "0:1:-0.1", "1.2:0.0:0.1", "0:1:inf"):
        with pytest.raises(ValueError):
            parse_grid(bad)


def test_grid_slots_go_round_robin():
    g = Grid(temperatures="0.0:1.2:0.4")
    assert g.values == [0.0, 0.4, 0.8, 1.2]
    assert g.slots(6) == [0.0, 0.4, 0.8, 1.2, 0.0, 0.4]
    assert Grid(temperatures=[0.2, 0.6]).slots(3) == [0.2, 0.6, 0.2]


def test_cycle_assigns_beam_j_temperature_j_mod_k():
    assert Cycle(temperatures=[0.4, 0.8, 1.2]).slots(7) == [0.4, 0.8, 1.2, 0.4, 0.8, 1.2, 0.4]


# --------------------------------------------------------------------------------------------
# early
# --------------------------------------------------------------------------------------------


def _boxed(answers):
    return [Completion(f"x\n\nThe answer is \\boxed{{{a}}}", 5, "eos") for a in answers]


def test_early_probe_decides_the_fill_temperature():
    early = Early(probe=4, thresh=3, low=0.1, high=0.8)
    probes = [["7", "7", "7", "9"], ["7", "7", "9", "9"], ["1", "1", "1", "1"]]
    calls = []

    def draw(plans, salt):
        calls.append((plans, salt))
        if not salt:
            return [_boxed(a) for a in probes]
        return [_boxed(["5"] * len(p)) for p in plans]

    out = sample_early(early, 10, 3, draw)
    assert calls[0] == ([[0.1] * 4] * 3, ())
    assert calls[1] == ([[0.1] * 6, [0.8] * 6, [0.1] * 6], ("fill",))
    assert [o[0] for o in out] == [[0.1] * 10, [0.1] * 4 + [0.8] * 6, [0.1] * 10]
    assert [o[2] for o in out] == [
        {"early_easy": 1, "probe_top_votes": 3},
        {"early_easy": 0, "probe_top_votes": 2},
        {"early_easy": 1, "probe_top_votes": 4},
    ]
    assert all(len(o[1]) == 10 for o in out)


def test_early_is_adaptive_and_has_no_fixed_slots():
    early = Early()
    assert early.adaptive and not Single(temperature=0.8).adaptive
    with pytest.raises(TypeError, match="adaptive"):
        early.slots(4)


# --------------------------------------------------------------------------------------------
# Config validation and names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides,key,fragment",
    [
        (
            ["temps=hnc", "temperature_schedule.ratios=[0.5,0.4]"],
            "temperature_schedule.ratios",
            "must sum to 1",
        ),
        (
            ["temps=hnc", "temperature_schedule.ratios=[1.0]"],
            "temperature_schedule.ratios",
            "has 1 entries but temperatures has 2",
        ),
        (
            ["temps=hnc", "temperature_schedule.temperatures=[-0.1,0.8]"],
            "temperature_schedule.temperatures",
            ">= 0, got -0.1",
        ),
        (
            ["temps=hnc", "temperature_schedule.temperatures=[nan,0.8]"],
            "temperature_schedule.temperatures",
            "got nan",
        ),
        (
            ["temps=hnc", "temperature_schedule.order=random"],
            "temperature_schedule.order",
            "interleaved",
        ),
        (
            ["temps=grid", "temperature_schedule.temperatures=[]"],
            "temperature_schedule.temperatures",
            "empty grid",
        ),
        (
            ["temps=grid", "temperature_schedule.temperatures=1.2:0.0:0.1"],
            "temperature_schedule.temperatures",
            "empty grid",
        ),
        (
            ["temps=grid", "temperature_schedule.temperatures=0:1"],
            "temperature_schedule.temperatures",
            "start:stop:step",
        ),
        (["temps=grid", "n=3"], "n", "smaller than the 4 temperatures"),
        (["temps=hnc", "n=1"], "n", "smaller than the 2 temperatures"),
        (
            ["temps=cycle", "temperature_schedule.temperatures=[0.2,0.4,0.8]", "n=2"],
            "n",
            "smaller than the 3 temperatures",
        ),
        (["temps=grid", "temperature_schedule.samples_per_temp=8"], "n", "set n=32"),
        (
            ["temps=early", "temperature_schedule.thresh=9"],
            "temperature_schedule.thresh",
            "probe=8",
        ),
        (["temps=early", "n=4"], "n", "probe=8"),
        (
            ["temps=early", "approach=two_stage_voting"],
            "temperature_schedule.name",
            "approach=best_of_n or majority",
        ),
        (["temps=early", "temperature_schedule.low=-1"], "temperature_schedule.low", ">= 0"),
        (
            ["temps=hnc", "+temperature_schedule.ratio=[0.5,0.5]"],
            "temperature_schedule.ratio",
            "unknown key",
        ),
    ],
)
def test_bad_schedules_name_the_key(overrides, key, fragment):
    with pytest.raises(ConfigError) as err:
        validate(compose(*overrides))
    msg = str(err.value)
    assert f"\n  {key}:" in msg, msg
    assert fragment in msg, msg


@pytest.mark.parametrize("temps", ["single", "hnc", "grid", "cycle", "early"])
def test_every_schedule_config_is_valid(temps):
    approach = "approach=two_stage_voting" if temps == "grid" else "approach=best_of_n"
    run = validate(compose(f"temps={temps}", approach))
    assert run.temperature_schedule.name_part()


@pytest.mark.parametrize(
    "overrides,part",
    [
        (["temps=single"], "--T-0.8--"),
        (["temps=hnc"], "--interleaved_0.4_0.8__r_0.5_0.5--"),
        (["temps=hnc", "temperature_schedule.order=blocked"], "--temps_0.4_0.8__r_0.5_0.5--"),
        (["temps=hnc", "temperature_schedule.ratios=null"], "--temps_0.4_0.8--"),
        (["temps=cycle"], "--temps_0.4_0.8--"),
        (["temps=grid"], "--grid_0.0_1.2_0.4--"),
        (["temps=grid", "temperature_schedule.temperatures=[0.2,1.0]"], "--temps_0.2_1.0--"),
        (["temps=early"], "--early_0.1_0.8__probe_8__thresh_6--"),
    ],
)
def test_run_names_follow_the_anchor_grammar(overrides, part):
    run = validate(compose(*overrides))
    name = run_name(run)
    assert name == f"ttscale_arith{part}top_p-1.0--n-16--seed-0--agg_strategy-last", name


# --------------------------------------------------------------------------------------------
# The prefix bias of maj@n (why interleaved is the default)
# --------------------------------------------------------------------------------------------


def test_blocked_order_biases_prefix_majority_and_interleaved_does_not():
    """T=0.4 always answers the right "7", T=0.8 always the wrong "9", half the slots each.

    Over random subsets of the full mix, maj@n is 0.5 for every even n (tie or balanced).
    Under the blocked order the prefix completions[:n] holds only T=0.4, so prefix maj@n
    claims 1.0; the interleaved prefix holds the intended mix and agrees with the unbiased
    value at every even n.
    """
    n = 16
    ans = {0.4: (0, True), 0.8: (1, False)}
    values = {}
    for order in ("blocked", "interleaved"):
        slots = HNC(temperatures=[0.4, 0.8], ratios=[0.5, 0.5], order=order).slots(n)
        labels = [ans[t][0] for t in slots]
        correct = [ans[t][1] for t in slots]
        prefix = problem_metrics(labels, correct, mode="prefix", methods=("maj",))
        rand = problem_metrics(labels, correct, mode="random", methods=("maj",), draws=2000)
        values[order] = (prefix, rand)
    blocked_prefix, blocked_random = values["blocked"]
    inter_prefix, inter_random = values["interleaved"]
    for k in (2, 4, 8):
        assert blocked_prefix[f"maj@{k}"] == 1.0  # biased: only the first temperature
        assert inter_prefix[f"maj@{k}"] == 0.5
        assert blocked_random[f"maj@{k}"] == pytest.approx(0.5, abs=0.05)
        assert inter_random[f"maj@{k}"] == pytest.approx(0.5, abs=0.05)
    assert blocked_prefix["maj@16"] == inter_prefix["maj@16"] == 0.5  # same full set


# --------------------------------------------------------------------------------------------
# End to end on the tiny models
# --------------------------------------------------------------------------------------------

FAST = ["dataset.num_samples=3", "max_tokens=48"]


def _rows(summary) -> list[dict]:
    return pq.read_table(Path(summary["path"])).to_pylist()


@pytest.mark.slow
def test_e2e_hnc_best_of_n(make_cfg, policy_path, prm_path):
    from ttscale.run.pipeline import main

    summary = main(
        make_cfg(
            "approach=best_of_n",
            "temps=hnc",
            "n=8",
            *FAST,
            f"model.path={policy_path}",
            f"prm.path={prm_path}",
        )
    )
    assert "interleaved_0.4_0.8__r_0.5_0.5" in summary["run"]
    for row in _rows(summary):
        assert row["temperatures"] == [0.4, 0.8] * 4  # stored per completion, interleaved
        assert len(row["completions"]) == 8 and all(row["scores"])
        tree_temps = [node["temperature"] for node in json.loads(row["tree"])]
        assert tree_temps == row["temperatures"]


@pytest.mark.slow
def test_e2e_early(make_cfg, policy_path):
    from ttscale.grading import extract_answer, normalize_answer
    from ttscale.run.pipeline import main

    # thresh=2 of probe=3: both outcomes are likely even on a weak model.
    summary = main(
        make_cfg(
            "approach=majority",
            "temps=early",
            "n=6",
            "prm=none",
            "temperature_schedule.probe=3",
            "temperature_schedule.thresh=2",
            *FAST,
            f"model.path={policy_path}",
        )
    )
    assert "early_0.1_0.8__probe_3__thresh_2" in summary["run"]
    for row in _rows(summary):
        temps, counters = row["temperatures"], json.loads(row["counters"])
        assert len(row["completions"]) == 6 and temps[:3] == [0.1] * 3
        votes = Counter(
            normalize_answer(a) for c in row["completions"][:3] if (a := extract_answer(c))
        )
        easy = max(votes.values(), default=0) >= 2
        assert counters["early_easy"] == int(easy)
        assert temps[3:] == [0.1 if easy else 0.8] * 3
        assert row["generate_calls"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("approach", ["beam_search", "dvts"])
def test_e2e_cycle_step_search(make_cfg, policy_path, prm_path, approach):
    from ttscale.search import APPROACHES

    if approach not in APPROACHES:
        pytest.skip(f"approach {approach!r} is not registered yet (being added in parallel)")
    from ttscale.run.pipeline import main

    summary = main(
        make_cfg(
            f"approach={approach}",
            "temps=cycle",
            "n=4",
            *FAST,
            "approach.num_iterations=3",
            f"model.path={policy_path}",
            f"prm.path={prm_path}",
        )
    )
    assert "temps_0.4_0.8" in summary["run"]
    for row in _rows(summary):
        assert set(row["temperatures"]) <= {0.4, 0.8}
        tree = json.loads(row["tree"])
        assert {node["temperature"] for node in tree} - {None} == {0.4, 0.8}
        if approach == "dvts":  # child j of every subtree at temps[j % 2]
            assert row["temperatures"] == Cycle(temperatures=[0.4, 0.8]).slots(4)
