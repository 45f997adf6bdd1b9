"""PRM selection: by ``prm.name`` only, with every family's keys checked at validation."""

from __future__ import annotations

import pytest

from tests.conftest import compose
from tests.prm import tiny
from ttscale.config import ConfigError, PRMConfig, validate
from ttscale.prm import OPTIONS, PRMS, build_prm, check_options
from ttscale.prm.oracle import OraclePRM
from ttscale.prm.skywork import SkyworkPRM


def test_every_registered_family_lists_its_keys():
    assert set(OPTIONS) == set(PRMS.names())
    assert set(OPTIONS) >= {"math_shepherd", "rlhflow", "skywork", "qwen_math_prm", "oracle"}


@pytest.mark.slow
def test_the_name_picks_the_family_never_the_path(tmp_path):
    # A Skywork checkpoint in a folder whose name says math-shepherd: the name decides.
    folder = tiny.skywork(tmp_path / "math-shepherd-mistral-7b-prm")
    prm = build_prm(PRMConfig(name="skywork", path=folder, batch_size=3, step_tag="\n"))
    assert isinstance(prm, SkyworkPRM) and prm.batch_size == 3
    assert prm.step_id == prm.tokenizer.encode("\n", add_special_tokens=False)[0]


def test_oracle_and_none():
    oracle = build_prm(PRMConfig(name="oracle", noise=0.25), seed=7)
    assert isinstance(oracle, OraclePRM) and (oracle.noise, oracle.seed) == (0.25, 7)
    assert build_prm(PRMConfig(name="none")) is None


@pytest.mark.parametrize(
    "name,values,message",
    [
        ("rlhflow", {"path": "x", "step_tag": "ки"}, "prm.step_tag: not used by prm.name=rlhflow"),
        ("skywork", {"path": None}, "prm.path: required for prm.name=skywork"),
        ("oracle", {"good_token": "+"}, "prm.good_token: not used by prm.name=oracle"),
        (
            "shepherd",
            {},
            "prm.name: unknown prm 'shepherd'; valid: none, likelihood, math_shepherd",
        ),
    ],
)
def test_check_options_names_the_key(name, values, message):
    problems = check_options(name, values)
    assert any(p.startswith(message) for p in problems), problems


def test_config_errors_name_the_prm_key():
    with pytest.raises(ConfigError, match=r"\n  prm.system_prompt: not used by prm.name=skywork"):
        validate(compose("prm=skywork-1.5b", "+prm.system_prompt=hi"))
    with pytest.raises(ConfigError, match=r"prm.path: required for prm.name=qwen_math_prm"):
        validate(compose("prm=qwen2.5-math-prm-7b", "prm.path=null"))


def test_math_shepherd_config_pins_the_reference_token_ids():
    run = validate(compose("prm=math-shepherd"))
    assert run.prm.token_ids == {"step_tag": 12902, "good_token": 648, "bad_token": 387}
