"""PRM inputs, read positions, prompts and start-up pins on real vocabularies (tests/vocab.py).

Llama 3's and Llama 2's vocabularies ship without a chat template; RLHFlow's PRM (a Llama 3.1
model) renders turns as ``<|start_header_id|>{role}<|end_header_id|>\\n\\n{content}<|eot_id|>``,
which :data:`LLAMA3_TEMPLATE` writes (our own minimal template of that format).
"""

from __future__ import annotations

import shutil

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT
from tests.prm.test_input_formats import TEXT
from ttscale.prm.math_shepherd import MathShepherdPRM
from ttscale.prm.rlhflow import RLHFlowPRM
from ttscale.prm.skywork import SkyworkPRM
from ttscale.prompts import DEFAULT_SYSTEM_PROMPT, build_prompt

pytestmark = pytest.mark.slow  # the first run downloads the sdist (77 MB) and converts

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
    "\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
Q = "What is 2+2?"


def _with_template(folder, tmp_path, name):
    """A copy of a tokenizer folder with the Llama 3 chat format."""
    from transformers import AutoTokenizer

    out = tmp_path / name
    shutil.copytree(folder, out)
    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = LLAMA3_TEMPLATE
    tok.save_pretrained(out)
    return out


def _family(cls, folder, input_format, token_ids=None, **options):
    """The family's tokenizer-side object (no weights): ``cls.check`` + ``encode``."""
    prm = cls.__new__(cls)
    opts = {"input_format": input_format, **options}
    prm._prepare(str(folder), 8, "cpu", "float32", token_ids, opts)
    return prm


@pytest.mark.parametrize("model", ["qwen2.5-1.5b-instruct", "qwen2.5-3b-instruct"])
def test_qwen25_model_configs_render_chatml_with_sals_system_prompt(real_vocab, model) -> None:
    from transformers import AutoTokenizer

    cfg = OmegaConf.load(ROOT / "conf" / "model" / f"{model}.yaml")
    tok = AutoTokenizer.from_pretrained(real_vocab("qwen2"))
    prompt = build_prompt(tok, "What is 1+1?", cfg.system_prompt, None)
    assert prompt == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("input_format", ["reference", "sal"])
def test_rlhflow_reads_p_plus_just_before_each_assistant_plus(
    real_vocab, tmp_path, input_format
) -> None:
    folder = _with_template(real_vocab("llama3"), tmp_path, "llama3")
    pins = OmegaConf.to_container(OmegaConf.load(ROOT / "conf/prm/rlhflow-8b.yaml").token_ids)
    prm = _family(RLHFlowPRM, folder, input_format, pins, good_token="+", bad_token="-")
    assert (prm.good_id, prm.bad_id) == (10, 12)  # Llama 3: "+" is 10, "-" is 12
    steps = prm.steps_of(TEXT)
    enc = prm.encode(Q, steps)
    assert len(enc.positions) == len(steps) == (2 if input_format == "reference" else 4)
    assert all(enc.ids[p + 1] == 10 for p in enc.positions)  # the "+" it predicts
    text = prm.tokenizer.decode(enc.ids)
    assert text.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n")
    assert f"{Q} ## Step 1: add\n2+2=4<|eot_id|>" in text
    if input_format == "sal":  # the blank-line run and the tail are empty user turns
        assert text.count("<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>") == 2


@pytest.mark.parametrize("input_format", ["reference", "sal"])
def test_skywork_reads_the_value_at_each_step_token(real_vocab, input_format) -> None:
    prm = _family(SkyworkPRM, real_vocab("qwen2"), input_format, step_tag="\n")
    steps = prm.steps_of(TEXT)
    enc = prm.encode(Q, steps)
    assert enc.ids[0] == prm.tokenizer.bos_token_id
    assert all(enc.ids[p] == prm.step_id == 198 for p in enc.positions)
    # sal: every "\n"-separated line, blank ones included, is flagged
    assert len(enc.positions) == len(steps) == (2 if input_format == "reference" else 9)
    assert prm.tokenizer.decode(enc.ids[1:]).startswith(Q + "\n## Step 1: add\n2+2=4\n")


def test_startup_pins_catch_a_wrong_vocabulary(real_vocab, tmp_path) -> None:
    # math-shepherd's pinned ids (Mistral's vocabulary) against Llama 2's
    pins = OmegaConf.to_container(OmegaConf.load(ROOT / "conf/prm/math-shepherd.yaml").token_ids)
    with pytest.raises(ValueError, match=r"prm.step_tag='ки' is token 8094 .* pins it to 12902"):
        MathShepherdPRM.check(str(real_vocab("llama2")), token_ids=pins)
    # RLHFlow's pins ("+" = 10, "-" = 12 in Llama 3) against Llama 2's vocabulary
    folder = _with_template(real_vocab("llama2"), tmp_path, "llama2")
    rl = OmegaConf.to_container(OmegaConf.load(ROOT / "conf/prm/rlhflow-8b.yaml").token_ids)
    with pytest.raises(ValueError, match=r"prm.good_token='\+' is token 718 .* pins it to 10"):
        RLHFlowPRM.check(str(folder), token_ids=rl, good_token="+", bad_token="-")
