"""PRM evaluation: ProcessBench F1 by hand and by brute force, AUCs, the CLI on the toy world."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from ttscale.learn.toy_data import processbench_cases
from ttscale.metrics.prm import predicted_error, processbench, step_auc, within_problem_auc


def test_processbench_f1_by_hand() -> None:
    # 3 erroneous cases (earliest error 1, 0, 2) and 2 correct ones, 3 steps each.
    labels = [1, 0, 2, -1, -1]
    scores = [
        [0.9, 0.2, 0.1],  # predicted 1: right
        [0.8, 0.3, 0.2],  # predicted 1, label 0: wrong
        [0.7, 0.6, 0.4],  # predicted 2: right
        [0.9, 0.9, 0.8],  # predicted -1: right
        [0.9, 0.4, 0.9],  # predicted 1, label -1: wrong
    ]
    r = processbench(labels, scores, 0.5)
    assert (r["error_acc"], r["correct_acc"]) == (2 / 3, 1 / 2)
    assert r["f1"] == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))  # 4/7
    assert r["f1"] == pytest.approx(4 / 7)


def test_processbench_against_brute_force() -> None:
    rng = random.Random(0)
    for _ in range(50):
        cases = [
            (lab, [rng.random() for _ in range(4)])
            for lab in [-1, 0, *(rng.randint(-1, 3) for _ in range(10))]
        ]
        labels, scores = [c[0] for c in cases], [c[1] for c in cases]
        t = rng.random()
        pred = [min([i for i, s in enumerate(sc) if s < t], default=-1) for sc in scores]
        err = [p == lab for p, lab in zip(pred, labels) if lab != -1]
        cor = [p == -1 for p, lab in zip(pred, labels) if lab == -1]
        a, b = sum(err) / len(err), sum(cor) / len(cor)
        want = 2 * a * b / (a + b) if a + b else 0.0
        assert processbench(labels, scores, t)["f1"] == pytest.approx(want)


def test_f1_is_undefined_without_one_of_the_classes() -> None:
    import math

    assert math.isnan(processbench([0, 1], [[0.1], [0.9, 0.2]])["f1"])


def test_step_auc_reads_steps_up_to_the_earliest_error() -> None:
    # good steps: 0.9, 0.8 (case 0 before its error), 0.7, 0.6 (correct case); bad: 0.5, 0.75
    labels, scores = [2, -1, 0], [[0.9, 0.8, 0.5, 0.0], [0.7, 0.6], [0.75, 1.0]]
    good, bad = [0.9, 0.8, 0.7, 0.6], [0.5, 0.75]
    pairs = [(g > b) + 0.5 * (g == b) for g, b in itertools.product(good, bad)]
    assert step_auc(labels, scores) == pytest.approx(sum(pairs) / len(pairs))


def test_within_problem_auc_against_brute_force() -> None:
    groups = [([0.9, 0.1, 0.5, 0.5], [True, False, True, False]), ([0.3, 0.2], [True, True]),
              ([0.1, 0.2, 0.3], [True, False, False])]  # fmt: skip
    want = []
    for s, c in groups:
        pos = [x for x, ok in zip(s, c) if ok]
        neg = [x for x, ok in zip(s, c) if not ok]
        if pos and neg:
            want.append(
                sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
            )
    assert within_problem_auc(groups) == (pytest.approx(sum(want) / len(want)), 2)


def test_the_toy_processbench_fixture_is_labelled_by_the_checker() -> None:
    from ttscale.toyworld.arith import check_steps

    cases = processbench_cases(20, seed=3)
    assert {c["label"] == -1 for c in cases} == {True, False}
    for c in cases:
        ok = check_steps(c["problem"], c["steps"])
        assert c["label"] == (ok.index(False) if False in ok else -1)
        assert predicted_error([float(x) for x in ok], 0.5) == c["label"]  # a perfect PRM


@pytest.mark.slow
def test_prm_eval_runs_on_the_toy_world_for_toy_and_oracle(tmp_path, capsys, prm_path) -> None:
    from ttscale.learn.prm_eval import main

    data = tmp_path / "pb.jsonl"
    data.write_text("".join(json.dumps(c) + "\n" for c in processbench_cases(30)))
    assert main(["prm=oracle", f"data={data}", f"out={tmp_path / 'oracle.json'}"]) == 0
    oracle = json.loads((tmp_path / "oracle.json").read_text())["processbench"]
    assert oracle["at_threshold"]["f1"] == 1.0 and oracle["step_auc"] == 1.0  # the upper bound
    assert main(["prm=toy", f"data={data}", f"out={tmp_path / 'toy.json'}"]) == 0
    toy = json.loads((tmp_path / "toy.json").read_text())["processbench"]
    assert 0 <= toy["best"]["f1"] <= 1 and len(toy["sweep"]) == 19
    assert "ProcessBench (15 erroneous, 15 correct cases)" in capsys.readouterr().out


def test_prm_eval_needs_a_prm_and_data(capsys) -> None:
    from ttscale.learn.prm_eval import main

    assert main(["prm=toy"]) == 2
    assert main(["prm=none", "data=x.jsonl"]) == 2
    assert "choose one" in capsys.readouterr().err


FORMATS = {  # learn.py's format, its options here, the PRM preset that reads it
    "token_classification": (["pretrain.steps=0"], "token-classification"),
    "likelihood": (["pretrain.steps=2", "pretrain.batch_size=4"], "likelihood"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_learn_trains_a_prm_that_prm_eval_and_the_search_path_read(
    fmt, tmp_path, make_cfg, policy_path
) -> None:
    """learn -> prm_eval -> search, in miniature (a few steps: the loop, not the quality)."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    from ttscale.learn.prm_eval import main as prm_eval
    from ttscale.run.pipeline import main as run

    options, preset = FORMATS[fmt]
    out = tmp_path / "prm"
    cmd = [sys.executable, "learn.py", f"prm_format={fmt}", "data.problems=12",
           "data.samples=2", "data.synthetic=8", "data.held_out=6", "train.steps=4",
           "train.batch_size=8", f"out={out}", "progress=false", *options]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "learn.json").read_text())
    assert report["held_out"] == 6 and "step_auc" in report["held_out_metrics"]
    if fmt == "likelihood":  # fitted on the policy's samples: 12 problems x 2, less 6 held out
        assert report["calibration"]["steps"] > 18 and report["pretrain_seconds"] > 0
        assert json.loads((out / "config.json").read_text())["ttscale_likelihood"]
    assert prm_eval([f"prm={preset}", f"prm.path={out}",
                     f"data={out / 'processbench.jsonl'}"]) == 0  # fmt: skip
    summary = run(make_cfg(f"prm={preset}", f"prm.path={out}", "n=4", "approach=beam_search",
                           "dataset.num_samples=2"))  # fmt: skip
    assert summary["num_problems"] == 2
