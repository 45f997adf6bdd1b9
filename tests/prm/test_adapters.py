"""The four public PRM adapters, run for real on tiny random models of the right classes.

Each adapter is checked against an independent, unbatched re-implementation of the model
card's reference code (one item, the format written out from REFERENCE.md, the score read by
hand from the raw weights), so a wrong step tag or an off-by-one position fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.prm import tiny
from ttscale.prm.math_shepherd import MathShepherdPRM
from ttscale.prm.qwen_math import SYSTEM_PROMPT, QwenMathPRM
from ttscale.prm.rlhflow import RLHFlowPRM
from ttscale.prm.skywork import SkyworkPRM

pytestmark = pytest.mark.slow

Q = "Compute 12+7*3-45."
STEPS = ["7*3=21, so 12+21-45", "12+21=33, so 33-45\n33-45=-12", "The answer is \\boxed{-12}"]
ITEMS = [  # mixed lengths, a "+" inside a step, one step only
    (Q, STEPS),
    ("What is 2+2?", ["2 + 2 = 4 + 0", "The answer is 4."]),
    (Q, STEPS[:1]),
    ("Let x be 3. What is 2x - 5?", ["2x = 6", "6 - 5 = 1", "So 1.", "The answer is \\boxed{1}"]),
]
FAMILIES = {
    "math_shepherd": (MathShepherdPRM, tiny.math_shepherd),
    "rlhflow": (RLHFlowPRM, tiny.rlhflow),
    "skywork": (SkyworkPRM, tiny.skywork),
    "qwen_math_prm": (QwenMathPRM, tiny.qwen_math_prm),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("prms")
    return {name: build(root / name) for name, (_, build) in FAMILIES.items()}


@pytest.fixture(scope="module")
def prms(folders) -> dict:
    return {name: cls(folders[name], batch_size=2) for name, (cls, _) in FAMILIES.items()}


def _tok(folder: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def _ids(tok, text: str) -> torch.Tensor:
    return torch.tensor([tok(text, add_special_tokens=False).input_ids])


# -- reference implementations, one item at a time -----------------------------------------


def ref_math_shepherd(folder: str, question: str, steps: list[str]) -> list[float]:
    from transformers import AutoModelForCausalLM

    tok, model = _tok(folder), AutoModelForCausalLM.from_pretrained(folder)
    answer = "\n\n".join(steps).replace("\n\n", " ки\n\n") + " ки"
    ids = _ids(tok, question + " " + answer)
    logits = model(ids).logits[0, :, [tok.convert_tokens_to_ids(t) for t in "+-"]]
    return logits.softmax(-1)[ids[0] == tok.convert_tokens_to_ids("ки"), 0].tolist()


def ref_rlhflow(folder: str, question: str, steps: list[str]) -> list[float]:
    """RLHFlow's card: the conversation up to step k, logits at position -3, P("+")."""
    from transformers import AutoModelForCausalLM

    tok, model = _tok(folder), AutoModelForCausalLM.from_pretrained(folder)
    plus, minus = tok.convert_tokens_to_ids("+"), tok.convert_tokens_to_ids("-")
    out, conversation = [], []
    for k, step in enumerate(steps):
        conversation += [
            {"role": "user", "content": question + " " + step if k == 0 else step},
            {"role": "assistant", "content": "+"},
        ]
        ids = tok.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"]
        logits = model(torch.tensor([ids])).logits[0, -3, [plus, minus]]
        out.append(logits.softmax(-1)[0].item())
    return out


def ref_skywork(folder: str, question: str, steps: list[str]) -> list[float]:
    """Skywork's prepare_input over "\\n"-split lines; sigmoid(v_head(last hidden)) by hand."""
    from transformers import Qwen2ForCausalLM

    tok, body = _tok(folder), Qwen2ForCausalLM.from_pretrained(folder)
    weights = load_file(str(Path(folder) / "model.safetensors"))
    newline = tok.encode("\n", add_special_tokens=False)[-1]
    ids = tok.encode(tok.bos_token + question + "\n", add_special_tokens=False)
    flags = []
    for line in "\n".join(steps).split("\n"):
        ids += tok.encode(line, add_special_tokens=False) + [newline]
        flags.append(len(ids) - 1)
    hidden = body(torch.tensor([ids]), output_hidden_states=True).hidden_states[-1][0]
    value = hidden @ weights["v_head.summary.weight"].T + weights["v_head.summary.bias"]
    line_scores = torch.sigmoid(value[:, 0])[flags].tolist()
    last_line = torch.tensor([s.count("\n") + 1 for s in steps]).cumsum(0) - 1
    return [line_scores[i] for i in last_line.tolist()]


def ref_qwen_math_prm(folder: str, question: str, steps: list[str]) -> list[float]:
    """Qwen's card: system/user/assistant chat, steps ended by <extra_0>, P(label 1) there."""
    from transformers import Qwen2Model

    tok, body = _tok(folder), Qwen2Model.from_pretrained(folder)
    w = load_file(str(Path(folder) / "model.safetensors"))
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
        {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"},
    ]
    ids = _ids(tok, tok.apply_chat_template(messages, tokenize=False))
    h = body(ids).last_hidden_state[0]
    logits = torch.relu(h @ w["score.0.weight"].T + w["score.0.bias"])
    logits = logits @ w["score.2.weight"].T + w["score.2.bias"]
    return logits.softmax(-1)[ids[0] == tok.convert_tokens_to_ids("<extra_0>"), 1].tolist()


REFERENCES = {
    "math_shepherd": ref_math_shepherd,
    "rlhflow": ref_rlhflow,
    "skywork": ref_skywork,
    "qwen_math_prm": ref_qwen_math_prm,
}


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAMILIES)
def test_scores_equal_the_reference_implementation(name, folders, prms):
    got = prms[name].score([q for q, _ in ITEMS], [s for _, s in ITEMS]).scores
    for (question, steps), scores in zip(ITEMS, got):
        expected = REFERENCES[name](folders[name], question, steps)
        assert len(scores) == len(steps)
        assert scores == pytest.approx(expected, rel=1e-4, abs=1e-6)
    spread = [x for s in got for x in s]
    assert max(spread) - min(spread) > 0.05  # distinct values: a shifted position would show


def _suffix(name: str, step: str) -> str:
    """What the decoded text must end with at the position that scores ``step``."""
    return {
        "math_shepherd": f"{step} ки",
        "rlhflow": f"{step}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "skywork": step.split("\n")[-1] + "\n",
        "qwen_math_prm": f"{step}<extra_0>",
    }[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_positions_are_exactly_the_step_ends(name, prms):
    prm = prms[name]
    for question, steps in ITEMS:
        enc = prm.encode(question, steps)
        assert len(enc.positions) == len(steps)
        assert enc.positions == sorted(set(enc.positions))
        for step, p in zip(steps, enc.positions):
            prefix = prm.tokenizer.decode(enc.ids[: p + 1])
            assert prefix.endswith(_suffix(name, step)), (name, step, prefix[-80:])
        if name == "rlhflow":  # the very next token is the assistant's "+"
            assert all(enc.ids[p + 1] == prm.good_id for p in enc.positions)


@pytest.mark.parametrize("name", FAMILIES)
def test_batch_size_and_padding_side_do_not_change_scores(name, folders, prms):
    questions, steps = [q for q, _ in ITEMS] * 2, [s for _, s in ITEMS] * 2
    one = FAMILIES[name][0](folders[name], batch_size=1)
    one.tokenizer.padding_side = "left"  # the adapter pads on its own; this must not matter
    a = one.score(questions, steps)
    two = prms[name]
    rows: list[int] = []
    read = two.read
    two.read = lambda ids, mask: rows.append(len(ids)) or read(ids, mask)  # spy on the batches
    try:
        b = two.score(questions, steps)
    finally:
        del two.read
    assert rows == [2, 2]  # batch_size=2 is honoured; the repeated half is not run again
    c = FAMILIES[name][0](folders[name], batch_size=64).score(questions, steps)
    for x, y, z, s in zip(a.scores, b.scores, c.scores, steps):
        assert len(x) == len(y) == len(z) == len(s)
        assert x == pytest.approx(y, rel=1e-4, abs=1e-6)
        assert x == pytest.approx(z, rel=1e-4, abs=1e-6)
    # A repeated item is scored once: same scores, and only its first copy is charged.
    half = len(ITEMS)
    assert b.scores[half:] == b.scores[:half]
    lengths = [len(prms[name].encode(*i).ids) for i in ITEMS]
    assert a.num_tokens == b.num_tokens == lengths + [0] * half
    full = FAMILIES[name][0](folders[name], batch_size=64, dedupe=False).score(questions, steps)
    assert full.num_tokens == lengths * 2  # the anchors' way: every item read and charged
    for x, y in zip(full.scores, c.scores):
        assert x == pytest.approx(y, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize(
    "name,step",
    [
        ("math_shepherd", "7*3=21 ки so 12+21-45"),
        ("qwen_math_prm", "7*3=21<extra_0> so 12+21-45"),
        ("skywork", "7*3=21\n\n\nso 12+21-45\n"),  # blank lines add no Skywork step
        ("rlhflow", "+\n+"),
    ],
)
def test_a_step_holding_the_tag_still_gets_one_score(name, step, prms):
    out = prms[name].score([Q], [[step, "The answer is 7."]])
    assert len(out.scores[0]) == 2


@pytest.mark.parametrize(
    "name,bad",
    [
        ("math_shepherd", {"step_tag": "<step>"}),
        ("math_shepherd", {"good_token": "plus sign"}),
        ("rlhflow", {"bad_token": "minus sign"}),
        ("skywork", {"step_tag": "<|step|>"}),
        ("qwen_math_prm", {"step_tag": "<extra_1>"}),
    ],
)
def test_missing_token_fails_naming_the_key_before_weights_load(name, bad, tmp_path):
    cls, build = FAMILIES[name]
    folder = Path(build(tmp_path / "full"))
    (tmp_path / "tok").mkdir()
    for f in folder.iterdir():  # the tokenizer alone: loading weights would fail differently
        if "token" in f.name or f.name == "chat_template.jinja":
            (tmp_path / "tok" / f.name).write_bytes(f.read_bytes())
    key, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=rf"prm\.{key}={value!r} is not a single token"):
        cls(str(tmp_path / "tok"), **bad)
    with pytest.raises(ValueError, match=rf"prm\.{key}={value!r} is not a single token"):
        cls.check(str(tmp_path / "tok"), **bad)  # the pre-run check, tokenizer only
    cls.check(str(tmp_path / "tok"))  # the right tokens pass without any weights


def test_token_id_pins_catch_a_wrong_tokenizer(folders):
    tok = _tok(folders["math_shepherd"])
    plus = tok.convert_tokens_to_ids("+")
    prm = MathShepherdPRM(folders["math_shepherd"], token_ids={"good_token": plus})
    assert prm.good_id == plus
    with pytest.raises(ValueError, match=r"prm.step_tag='ки' is token \d+ .* pins it to 648"):
        MathShepherdPRM(folders["math_shepherd"], token_ids={"step_tag": 648})
    with pytest.raises(ValueError, match=r"prm.token_ids: step_tag not used"):
        RLHFlowPRM(folders["rlhflow"], token_ids={"step_tag": 1})


def test_skywork_loads_the_value_head_it_was_given(folders, prms):
    saved = load_file(str(Path(folders["skywork"]) / "model.safetensors"))
    head = prms["skywork"].model.v_head.summary
    assert torch.equal(head.weight, saved["v_head.summary.weight"])
    assert torch.equal(head.bias, saved["v_head.summary.bias"])


@pytest.mark.gpu
@pytest.mark.parametrize("name", FAMILIES)
def test_on_a_gpu_in_bf16_scores_stay_close_to_cpu(name, folders, prms):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    questions, steps = [q for q, _ in ITEMS], [s for _, s in ITEMS]
    gpu = FAMILIES[name][0](folders[name], batch_size=2, device="cuda", dtype="bfloat16")
    for x, y in zip(gpu.score(questions, steps).scores, prms[name].score(questions, steps).scores):
        assert x == pytest.approx(y, abs=0.05)
