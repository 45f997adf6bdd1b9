"""Run names: parse_run_name inverts run_name for every approach and schedule."""

from __future__ import annotations

import pytest

from ttscale.config import validate
from ttscale.storage.naming import parse_run_name, run_name
from ttscale.sweep.hydra import compose


def _name(*overrides: str) -> str:
    run = validate(compose(*overrides))
    return run_name(run)


def test_best_of_n_name_round_trips() -> None:
    name = _name("n=8", "seed=3", "temperature=0.6", "top_p=0.9", "agg_strategy=min")
    assert name == "ttscale_arith--T-0.6--top_p-0.9--n-8--seed-3--agg_strategy-min"
    p = parse_run_name(name)
    assert (p.dataset, p.schedule, p.temperatures) == ("ttscale_arith", "single", (0.6,))
    assert (p.top_p, p.n, p.seed, p.agg_strategy) == (0.9, 8, 3, "min")
    assert p.beam_width is None and p.chunk is None and p.options == {}


def test_beam_search_fields() -> None:
    p = parse_run_name(_name("approach=beam_search", "n=16", "approach.beam_width=4"))
    assert (p.beam_width, p.lookahead, p.n) == (4, 0, 16)
    assert p.iterations is not None


@pytest.mark.parametrize(
    ("overrides", "schedule", "temps", "ratios"),
    [
        (("temps=hnc",), "hnc", (0.4, 0.8), (0.5, 0.5)),
        (("temps=cycle",), "cycle", (0.4, 0.8), None),
        (("temps=grid",), "grid", (0.0, 0.4, 0.8, 1.2), None),
        (("temps=early",), "early", (0.1, 0.8), None),
    ],
)
def test_temperature_schedules(overrides, schedule, temps, ratios) -> None:
    p = parse_run_name(_name("n=16", *overrides))
    assert p.schedule == schedule
    assert p.temperatures == pytest.approx(temps)
    assert p.ratios == ratios


def test_hnc_blocked_order_and_options() -> None:
    p = parse_run_name(_name("temps=hnc", "temperature_schedule.order=blocked"))
    assert p.schedule == "hnc" and p.ratios == (0.5, 0.5) and "order" not in p.options
    v = parse_run_name(
        _name("approach=two_stage_voting", "temps=grid", "approach.early_exit=false")
    )
    assert v.options["no_exit"] == "true" and "tau" in v.options


def test_anchor_names_chunks_and_seed_groups() -> None:
    # a hotncold Hub branch name
    name = "HuggingFaceH4_MATH-500--temps_0.4_0.8__r_0.25_0.75--top_p-1.0--n-256--seed-2--agg_strategy-last--m-4--iters-40--look-0--chunk-0_50"
    p = parse_run_name(name)
    assert p.dataset == "HuggingFaceH4_MATH-500" and p.ratios == (0.25, 0.75)
    assert (p.n, p.seed, p.beam_width, p.chunk) == (256, 2, 4, (0, 50))
    assert p.base == name.removesuffix("--chunk-0_50")
    other = parse_run_name(p.base.replace("seed-2", "seed-5"))
    assert other.without_seed == p.without_seed
    assert p.temperature_label == "T=0.4/0.8 (0.25/0.75)"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("justadataset", "expected"),
        ("ds--X-0.8--n-4", "not a temperature part"),
        ("ds--T-hot--n-4", "bad temperature"),
        ("ds--T-0.8--n-four", "n-four is not an integer"),
        ("ds--T-0.8--chunk-0-5", "bad chunk"),
    ],
)
def test_bad_names_name_the_field(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_run_name(name)
    assert name in str(err.value)


# search-and-learn's and hotncold's own config code write these strings (REFERENCE.md,
# "Exact names the anchors write"; checked against sal's Config.__post_init__).
ANCHOR = "HuggingFaceH4/MATH-500"
MATH = ("dataset=math500", f"dataset.name={ANCHOR}", "n=8", "seed=0", "temperature=0.8")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ((), "HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-8--seed-0--agg_strategy-last"),
        (
            ("approach=beam_search", "approach.beam_width=2"),
            "HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-8--m-2--iters-40--look-0--seed-0"
            "--agg_strategy--last",
        ),
        (
            ("approach=dvts", "approach.beam_width=2"),
            "HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-8--m-2--iters-40--look-0--seed-0"
            "--agg_strategy--last",
        ),
        (
            ("temps=hnc", "temperature_schedule.order=blocked"),
            "HuggingFaceH4_MATH-500--temps_0.4_0.8__r_0.5_0.5--top_p-1.0--n-8--seed-0"
            "--agg_strategy-last",
        ),
        (
            ("temps=hnc", "temperature_schedule.ratios=null"),
            "HuggingFaceH4_MATH-500--temps_0.4_0.8--top_p-1.0--n-8--seed-0--agg_strategy-last",
        ),
    ],
)
def test_names_are_the_anchors_exact_strings(overrides, expected) -> None:
    assert _name(*MATH, *overrides) == expected


def test_beam_options_the_anchors_leave_out_are_not_in_the_name() -> None:
    plain = _name(*MATH, "approach=beam_search", "approach.beam_width=2")
    assert _name(*MATH, "approach=beam_search", "approach.beam_width=2",
                 "approach.filter_duplicates=true") == plain  # fmt: skip


def test_interleaved_hnc_has_a_name_no_hotncold_tool_reads_as_blocks() -> None:
    name = _name(*MATH, "temps=hnc")  # order=interleaved is the default
    assert "--interleaved_0.4_0.8__r_0.5_0.5--" in name and "temps_" not in name
    p = parse_run_name(name)
    assert (p.schedule, p.ratios, p.options["order"]) == ("hnc", (0.5, 0.5), "interleaved")
    # hotncold's analysis tool splits a temps_ name on "__" and reads floats: no other
    # segment may appear in it (an __order_blocked segment crashed that parser).
    blocked = _name(*MATH, "temps=hnc", "temperature_schedule.order=blocked")
    segment = blocked.split("--")[1]
    head, *rest = segment.split("__")
    for part in rest:
        key, _, values = part.partition("_")
        assert key == "r" and all(float(v) >= 0 for v in values.split("_"))


def test_parses_search_and_learn_step_names_and_merged_configs() -> None:
    p = parse_run_name(
        "HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-8--m-2--iters-40--look-0--seed-0"
        "--agg_strategy--last--chunk-0_25"
    )
    assert (p.agg_strategy, p.beam_width, p.chunk, p.options) == ("last", 2, (0, 25), {})
    merged = parse_run_name(
        "HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-merged--max_tokens-2048--bsz-8--seed-0"
        "--agg_strategy-last"
    )
    assert merged.n is None and merged.options["merged"] == "true"
    assert merged.options["max_tokens"] == "2048"
