"""Config validation: bad values fail before any model loads, naming the key."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException

from tests.conftest import ROOT, compose
from ttscale.config import ConfigError, validate


def test_default_config_is_valid():
    run = validate(compose())
    assert run.approach.name == "best_of_n" and run.n == 16
    assert run.temperature_schedule.slots(3) == [0.8, 0.8, 0.8]
    assert run.model.path.endswith("models/toy-policy")


def test_overrides_reach_the_schema():
    run = validate(compose("n=32", "temperature=0.6", "dataset.num_samples=50"))
    assert (run.n, run.dataset.num_samples) == (32, 50)
    assert run.temperature_schedule.slots(1) == [0.6]


@pytest.mark.parametrize(
    "override,key,fragment",
    [
        ("n=0", "n", "greater than or equal to 1"),
        ("temperature=-0.1", "temperature", ">= 0"),
        ("temperature=nan", "temperature", ">= 0"),
        ("top_p=1.5", "top_p", "(0, 1]"),
        ("top_p=0", "top_p", "(0, 1]"),
        ("max_tokens=0", "max_tokens", "greater than or equal to 1"),
        ("agg_strategy=median", "agg_strategy", "last, min, prod, mean"),
        ("+bogus_key=1", "bogus_key", "unknown key"),
        ("+model.temprature=1", "model.temprature", "unknown key"),
        ("n=abc", "n", "valid integer"),
        ("shard.index=4", "shard", "shard.index (4) must be < shard.count (1)"),
        ("dataset.start=5", "dataset", None),
        ("metrics.subset_mode=first", "metrics.subset_mode", "random"),
        ("grading.timeout=0", "grading.timeout", "greater than 0"),
    ],
)
def test_bad_values_name_the_key(override, key, fragment):
    cfg = compose(override, *(["dataset.end=3"] if override.startswith("dataset.start") else []))
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    msg = str(err.value)
    assert f"  {key}" in msg, msg
    if fragment:
        assert fragment in msg, msg


def test_unknown_approach_lists_valid_names():
    cfg = compose("approach.name=beem_search")
    with pytest.raises(
        ConfigError, match=r"approach\.name: unknown approach 'beem_search'; valid: .*best_of_n"
    ):
        validate(cfg)


def test_unknown_config_group_option_fails_in_hydra():
    with pytest.raises(ConfigCompositionException, match="approach"):
        compose("approach=nonexistent")


def test_cli_rejects_bad_value_with_one_clear_line(tmp_path):
    # That this happens before any model loads is checked in-process, with a tripwire on
    # model loading, by tests/test_bad_input.py; no wall-clock assertion here.
    proc = subprocess.run(
        [sys.executable, "run.py", "top_p=1.5", f"paths.log_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "top_p: must be in (0, 1], got 1.5" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_errors_name_the_preset_the_user_typed(tmp_path):
    """prm=toy is a likelihood PRM: the error says prm=toy, with the family beside it."""
    from ttscale.sweep.hydra import compose_sweep

    proc = subprocess.run(
        [sys.executable, "run.py", "prm=toy", "+prm.noise=0.3", f"paths.log_dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "prm.noise: not used by prm=toy (prm.name=likelihood); it reads:" in proc.stderr
    # A sweep task's config carries Hydra's choices: the same words.
    (task,) = compose_sweep(["prm=toy", "+prm.noise=0.3"])
    with pytest.raises(ConfigError, match=r"not used by prm=toy \(prm.name=likelihood\)"):
        validate(task)
    # Typed as the family, the family is the name.
    with pytest.raises(ConfigError, match=r"not used by prm.name=oracle; it reads"):
        validate(compose_sweep(["prm=oracle", "+prm.step_tag=x"])[0])


def test_cli_help_and_cfg_job():
    help_out = subprocess.run(
        [sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    ).stdout
    assert "approach" in help_out and "temps" in help_out and "python run.py" in help_out
    cfg_out = subprocess.run(
        [sys.executable, "run.py", "--cfg", "job", "n=8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "'n': 8" in cfg_out and "temperature_schedule:" in cfg_out


def test_secret_values_never_appear_in_config_errors():
    cfg = compose("+model.api_key=[sk-THIS-IS-SECRET]")  # a list: wrong type for a key
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert "model.api_key" in str(err.value) and "SECRET" not in str(err.value)


def test_best_of_n_without_a_prm_fails_at_validation():
    with pytest.raises(ConfigError, match="approach=best_of_n needs a scorer"):
        validate(compose("prm=none"))


def test_a_top_level_temperature_that_the_schedule_ignores_is_an_error():
    from ttscale.config import ConfigError, ignored_overrides
    from ttscale.sweep import sweep_errors
    from ttscale.sweep.hydra import compose_sweep

    with pytest.raises(ConfigError, match="temps=hnc samples at temperature_schedule.temperatures"):
        ignored_overrides(compose("temps=hnc"), ["temps=hnc", "temperature=0.6"])
    ignored_overrides(compose("temps=single"), ["temperature=0.6"])  # read: fine
    ignored_overrides(compose("temps=hnc"), ["temps=hnc"])  # not given: fine
    cfgs = compose_sweep(["temps=hnc", "temperature=0.6"])
    (error,) = sweep_errors(cfgs, [["temps=hnc", "temperature=0.6"]])
    assert "temperature: read by temps=single only" in error
