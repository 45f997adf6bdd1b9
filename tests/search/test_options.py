"""Step-search options: checked before any model loads, errors name the key; run names."""

from __future__ import annotations

import pytest

from tests.conftest import compose
from ttscale.config import ConfigError, validate
from ttscale.storage.naming import run_name


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["approach=beam_search", "approach.beam_width=3"],
            "approach.beam_width: n (16) must be divisible by beam_width (3)",
        ),
        (
            ["approach=dvts", "n=4", "approach.beam_width=8"],
            "approach.beam_width: must be <= n (4), got 8",
        ),
        (["approach=beam_search", "approach.num_iterations=0"], "approach.num_iterations"),
        (["approach=dvts", "approach.lookahead=-1"], "approach.lookahead"),
        (["approach=collective_backtrack", "approach.tau=1.5"], "approach.tau"),
        (["approach=independent_backtrack", "approach.tau=-0.1"], "approach.tau"),
        (
            ["approach=collective_backtrack", "approach.passing_minimum=10"],
            "approach.passing_minimum: must be <= max_total_branches (9), got 10",
        ),
        (
            ["approach=collective_backtrack", "approach.keeping_branches=0"],
            "approach.keeping_branches",
        ),
        (
            ["approach=independent_backtrack", "n=8", "approach.max_total_branches=4"],
            "approach.max_total_branches: must be >= num_finished (8), got 4",
        ),
        (
            ["approach=beam_search", "prm=none"],
            "prm.name: approach=beam_search is guided by a scorer",
        ),
        (["approach=dvts", "+approach.beam_widht=2"], "approach.beam_widht: unknown key"),
    ],
)
def test_bad_options_fail_validation_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as err:
        validate(compose(*overrides))
    assert message in str(err.value)


@pytest.mark.parametrize(
    "approach", ["beam_search", "dvts", "collective_backtrack", "independent_backtrack"]
)
def test_default_configs_are_valid(approach):
    run = validate(compose(f"approach={approach}", "n=4"))
    assert run.approach.needs_scorer and run.approach.name == approach


def test_run_names_keep_the_anchor_grammar_and_tell_non_default_runs_apart():
    def name(*overrides):
        return run_name(validate(compose(*overrides)))

    tail = "--m-4--iters-40--look-0--seed-0--agg_strategy--last"
    assert name("approach=beam_search").endswith(tail)
    assert name("approach=dvts", "approach.lookahead=1").endswith(tail.replace("look-0", "look-1"))
    # an option search-and-learn leaves out of its names is in the run identity instead
    assert name("approach=beam_search", "approach.filter_duplicates=true").endswith(tail)
    assert name("approach=collective_backtrack").endswith("--agg_strategy-last")
    assert "--n-16--tau-0.7--seed-0--" in name("approach=collective_backtrack", "approach.tau=0.7")
