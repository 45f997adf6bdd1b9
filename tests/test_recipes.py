"""Every recipe, real-model config and PRM config composes and validates (nothing loads)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT, compose
from ttscale.config import validate
from ttscale.prm import OPTIONS
from ttscale.prompts import build_prompt

RECIPE_DIR = ROOT / "recipes" / "recipe"
RECIPES = sorted(
    p.relative_to(RECIPE_DIR).with_suffix("").as_posix() for p in RECIPE_DIR.rglob("*.yaml")
)
MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml"))
REAL_MODELS = [m for m in MODELS if not m.startswith("toy")]
PRM_CONFIGS = sorted(p.stem for p in (ROOT / "conf" / "prm").glob("*.yaml"))
APPROACHES = ("best_of_n", "beam_search", "dvts")


def _yaml(group: str, name: str):
    return OmegaConf.load(ROOT / "conf" / group / f"{name}.yaml")


def test_every_real_model_has_a_recipe_per_approach():
    assert len(REAL_MODELS) >= 9
    expected = {f"{m}/{a}" for m in REAL_MODELS for a in APPROACHES}
    assert expected <= set(RECIPES), sorted(expected - set(RECIPES))


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_validates_with_search_and_learns_defaults(recipe):
    run = validate(compose(f"+recipe={recipe}"))
    model, approach = recipe.split("/") if "/" in recipe else ("llama-3.2-1b-instruct", "best_of_n")
    assert run.model.path == _yaml("model", model).path
    assert run.approach.name == approach
    assert (run.temperature, run.top_p, run.max_tokens, run.agg_strategy) == (
        0.8,
        1.0,
        2048,
        "last",
    )
    # search-and-learn's current recipes: AceMath with Qwen's PRM and sal's default system
    # prompt, every other model with RLHFlow's; n=4 for every approach; 10 problems
    if model == "acemath-7b-instruct":
        assert (run.prm.name, run.prm.path) == ("qwen_math_prm", "Qwen/Qwen2.5-Math-PRM-7B")
        assert run.model.system_prompt == "default"
    else:
        assert (run.prm.name, run.prm.path) == (
            "rlhflow",
            "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data",
        )
    assert run.prm.input_format == "sal" and run.n == 4 and run.seed == 0
    assert run.dataset.name == "HuggingFaceH4/MATH-500" and run.dataset.num_samples == 10
    assert run.temperature_schedule.name == "single"
    if approach != "best_of_n":
        assert (run.approach.beam_width, run.approach.num_iterations, run.approach.lookahead) == (
            4,
            40,
            0,
        )
        assert run.n % run.approach.beam_width == 0


def test_command_line_overrides_beat_the_recipe():
    run = validate(
        compose("+recipe=qwen3-0.6b/dvts", "n=256", "prm=skywork-7b", "approach.lookahead=1")
    )
    assert (run.n, run.prm.name, run.approach.lookahead) == (256, "skywork", 1)
    assert run.model.path == "Qwen/Qwen3-0.6B"


@pytest.mark.slow
def test_recipe_is_selected_from_the_command_line():
    out = subprocess.run(
        [sys.executable, "run.py", "+recipe=llama-3.2-1b-instruct/beam_search", "--cfg", "job"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    cfg = OmegaConf.create(out)
    assert (cfg.model.path, cfg.approach.name, cfg.n) == (
        "meta-llama/Llama-3.2-1B-Instruct",
        "beam_search",
        4,
    )


@pytest.mark.parametrize("model", MODELS)
def test_model_config_validates(model):
    run = validate(compose(f"model={model}", "approach=majority", "prm=none"))
    if model in REAL_MODELS:
        assert run.model.system_prompt  # every real model gets an explicit system prompt
        if model.startswith("qwen3"):
            assert run.model.chat_template_kwargs == {"enable_thinking": False}
        if model.startswith("llama"):
            assert run.model.chat_template_kwargs["date_string"]  # prompts never change by day


@pytest.mark.parametrize("prm", PRM_CONFIGS)
def test_prm_config_validates(prm):
    run = validate(compose(f"prm={prm}", "approach=majority"))
    assert run.prm.name == "none" or run.prm.name in OPTIONS
    if "path" in OPTIONS.get(run.prm.name, ()):
        assert run.prm.path


def test_qwen3_thinking_switch_reaches_the_chat_template():
    from transformers import PreTrainedTokenizerFast

    from ttscale.toyworld.tokenizer import build_tokenizer

    tok: PreTrainedTokenizerFast = build_tokenizer()
    # The shape of Qwen3's switch: an empty think block closes thinking when it is off.
    tok.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
        "{% if enable_thinking is defined and enable_thinking is false %}<t></t>{% endif %}"
    )
    run = validate(compose("model=qwen3-0.6b", "approach=majority", "prm=none"))
    off = build_prompt(tok, "Q?", None, run.model.chat_template_kwargs)
    on = build_prompt(tok, "Q?", None, {"enable_thinking": True})
    assert off == "<user>Q?<assistant><t></t>" and on == "<user>Q?<assistant>"
