"""The likelihood PRM: cumulative log-likelihoods checked token by token, and its calibration."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.prm import tiny
from ttscale.learn.calibrate import calibrate, fit_logistic
from ttscale.learn.labels import Labelled
from ttscale.prm.likelihood import CONFIG_KEY, LikelihoodPRM

QUESTION = "Compute 12+7*3-45."
STEPS = ["7*3=21, so 12+21-45", "12+21=33, so 33-45", "33-45=-12"]


def brute_force(folder: str, question: str, steps: list[str]) -> list[float]:
    """L_k by one forward pass per token: log p(token | everything before it), summed over the
    answer up to step k's tag, the separator token after each tag left out."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ttscale.prm.math_shepherd import format_input

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = tok(format_input(question, steps), add_special_tokens=False).input_ids
    start = len(tok(question + " ", add_special_tokens=False).input_ids)
    tag = tok.convert_tokens_to_ids("ки")
    total, out = 0.0, []
    with torch.no_grad():
        for j in range(start, len(ids)):
            if ids[j - 1] != tag:
                logits = model(torch.tensor([ids[:j]])).logits[0, -1]
                total += logits.log_softmax(-1)[ids[j]].item()
            if ids[j] == tag:
                out.append(total)
    return out


def test_raw_scores_are_the_cumulative_log_likelihood_of_the_answer(tmp_path) -> None:
    folder = tiny.math_shepherd(tmp_path / "lm")
    prm = LikelihoodPRM(folder, raw=True, batch_size=2, device="cpu", dtype="float32")
    items = [STEPS, STEPS[:2], ["7*3=22, so 12+22-45"]]
    got = prm.score([QUESTION] * 3, items).scores
    for steps, scores in zip(items, got):
        assert scores == pytest.approx(brute_force(folder, QUESTION, steps), abs=1e-4)
    assert all(a > b for a, b in zip(got[0], got[0][1:]))  # each step adds a log-probability
    # The question is not counted: another question before the same answer changes little
    # (context), but not by the question's own log-likelihood (tens of nats here).
    other = prm.score(["What is 7*3 then?"], [STEPS[:1]]).scores[0][0]
    assert abs(other - got[0][0]) < 0.5 * abs(got[0][0])


def test_calibrated_scores_are_a_sigmoid_of_the_log_likelihood(tmp_path) -> None:
    folder = tiny.math_shepherd(tmp_path / "lm")
    raw = LikelihoodPRM(folder, raw=True, device="cpu").score([QUESTION], [STEPS]).scores[0]
    plain = LikelihoodPRM(folder, device="cpu").score([QUESTION], [STEPS]).scores[0]
    assert plain == pytest.approx([1 / (1 + math.exp(-x)) for x in raw])  # scale 1, bias 0
    config = tmp_path / "lm" / "config.json"
    data = json.loads(config.read_text())
    data[CONFIG_KEY] = {"scale": 0.5, "bias": 3.0}
    config.write_text(json.dumps(data))
    fitted = LikelihoodPRM(folder, device="cpu").score([QUESTION], [STEPS]).scores[0]
    assert fitted == pytest.approx([1 / (1 + math.exp(-(0.5 * x + 3.0))) for x in raw])


def test_the_likelihood_prm_reads_the_reference_input_only(tmp_path) -> None:
    folder = tiny.math_shepherd(tmp_path / "lm")
    with pytest.raises(ValueError, match="prm.input_format=sal: search-and-learn has no"):
        LikelihoodPRM(folder, input_format="sal")
    with pytest.raises(ValueError, match=r"prm.step_tag='<step>' is not a single token"):
        LikelihoodPRM.check(folder, step_tag="<step>")


def test_the_logistic_fit_is_the_maximum_likelihood_one() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20000, generator=gen) * 3 - 4
    y = torch.rand(20000, generator=gen) < torch.sigmoid(2 * x + 5)
    scale, bias = fit_logistic(x.tolist(), y.tolist())
    assert scale == pytest.approx(2, abs=0.15) and bias == pytest.approx(5, abs=0.3)

    def loglik(a: float, b: float) -> float:
        p = torch.sigmoid(a * x.double() + b)
        return float(torch.where(y, p.log(), (1 - p).log()).sum())

    best = loglik(scale, bias)
    for da, db in [(0.02, 0), (-0.02, 0), (0, 0.05), (0, -0.05)]:
        assert loglik(scale + da, bias + db) < best
    with pytest.raises(ValueError, match="both good and bad steps"):
        fit_logistic([1.0, 2.0], [True, True])
    # labels that separate perfectly: the ridge keeps the fit finite and ordered
    a, b = fit_logistic([-10.0, -9.0, -1.0, -0.5], [False, False, True, True])
    assert math.isfinite(a) and a > 0 and a * -0.5 + b > 0 > a * -10 + b


def test_calibration_fits_cumulative_labels_and_writes_the_config(tmp_path) -> None:
    folder = tmp_path / "lm"
    tiny.math_shepherd(folder)
    records = [Labelled(QUESTION, STEPS, [True, True, True]),
               Labelled(QUESTION, STEPS, [True, False, True]),  # the third follows an error
               Labelled(QUESTION, ["7*3=22, so 12+22-45"], [False])]  # fmt: skip
    fit = calibrate(folder, records)
    assert fit["steps"] == 7 and fit["good"] == 3 + 1  # cumulative: only the first of record 2
    config = json.loads((folder / "config.json").read_text())
    assert config[CONFIG_KEY] == fit
    prm = LikelihoodPRM(str(folder), device="cpu")
    assert (prm.scale, prm.bias) == (fit["scale"], fit["bias"])
