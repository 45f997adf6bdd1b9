"""learn.py's model steps: identity-initialised layers on a base, freezing, corrected twins."""

from __future__ import annotations

import pytest
import torch

from tests.learn.conftest import tiny_model
from ttscale.learn.labels import Labelled
from ttscale.learn.model import add_layers, freeze_base


def test_added_layers_compute_what_the_base_did_until_trained(char_tokenizer) -> None:
    base = tiny_model(char_tokenizer, "math_shepherd").eval()
    deeper = add_layers(base, 2, seed=0).eval()
    assert deeper.config.num_hidden_layers == 4 and len(deeper.model.layers) == 4
    x = torch.tensor([char_tokenizer("Compute 2+3. 2+3=5 ки", add_special_tokens=False).input_ids])
    with torch.no_grad():
        assert torch.allclose(base(x).logits, deeper(x).logits, atol=1e-5)
    # they are real layers: once their output projections move, the output does
    with torch.no_grad():
        deeper.model.layers[3].mlp.down_proj.weight.normal_()
        assert not torch.allclose(base(x).logits, deeper(x).logits, atol=1e-3)


def test_freezing_trains_the_new_layers_only(char_tokenizer) -> None:
    deeper = add_layers(tiny_model(char_tokenizer, "math_shepherd"), 1, seed=0)
    trainable = freeze_base(deeper, 2)
    names = [n for n, p in deeper.named_parameters() if p.requires_grad]
    assert names and all(n.startswith(("model.layers.2.", "model.norm", "lm_head")) for n in names)
    assert trainable == sum(p.numel() for n, p in deeper.named_parameters() if n in names)


def test_a_twin_puts_the_first_wrong_step_right_and_finishes_validly() -> None:
    from ttscale.learn.toy_data import twins
    from ttscale.toyworld.arith import check_steps

    q = "Compute 12+7*3-45."
    wrong_result = ["7*3=21, so 12+21-45", "12+21=43, so 43-45", "43-45=-2",
                    "The answer is \\boxed{-2}"]  # fmt: skip
    wrong_rewrite = ["7*3=21, so 12+21-21-45", "12+21=33, so 33-21-45"]
    nonsense = ["7*3=21, so 12+21-45", "hello"]
    recs = [Labelled(q, s, check_steps(q, s), f"r{i}")
            for i, s in enumerate([wrong_result, wrong_rewrite, nonsense])]  # fmt: skip
    recs.append(Labelled(q, ["7*3=21, so 12+21-45"], [True], "right"))  # no error: no twin
    out = twins(recs, seed=0)
    assert [t.id for t in out] == ["r0/twin", "r1/twin", "r2/twin"]
    for t in out:
        assert all(t.labels) and t.labels == check_steps(q, t.steps)
        assert t.steps[-1] == "The answer is \\boxed{-12}"
    # the same prefix, and the same pair combined at the wrong step
    assert out[0].steps[:2] == ["7*3=21, so 12+21-45", "12+21=33, so 33-45"]
    assert out[1].steps[0] == "7*3=21, so 12+21-45"
    assert out[2].steps[0] == "7*3=21, so 12+21-45"


def test_pretraining_and_freezing_are_checked_before_anything_loads() -> None:
    from hydra import compose, initialize_config_dir

    from tests.conftest import ROOT
    from ttscale.errors import ConfigError
    from ttscale.learn.config import validate_learn

    def compose_learn(*overrides: str):
        with initialize_config_dir(config_dir=str(ROOT / "conf" / "learn"), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    validate_learn(compose_learn("pretrain.steps=5", "train.add_layers=2",
                                 "train.freeze_base=true", "data.twins=true"))  # fmt: skip

    with pytest.raises(ConfigError, match="freeze_base needs train.add_layers"):
        validate_learn(compose_learn("train.freeze_base=true", "train.add_layers=0"))
    with pytest.raises(ConfigError, match="needs a format with an LM head"):
        validate_learn(compose_learn("pretrain.steps=5", "prm_format=token_classification"))
    with pytest.raises(ConfigError, match="train.steps=0: prm_format=math_shepherd is a class"):
        validate_learn(compose_learn("prm_format=math_shepherd", "train.steps=0"))
    with pytest.raises(ConfigError, match="train.rank_weight: prm_format=likelihood has no"):
        validate_learn(compose_learn("prm_format=likelihood", "train.rank_weight=1"))
    validate_learn(compose_learn("prm_format=likelihood", "train.steps=0", "pretrain.steps=5"))
    with pytest.raises(ConfigError, match="toy world only"):
        validate_learn(compose_learn("pretrain.steps=5", "data=rollouts",
                                     "data.run=['model=toy']"))  # fmt: skip


@pytest.mark.slow
def test_learn_pretrains_deepens_and_freezes_in_one_command(tmp_path) -> None:
    """The toy recipe's path in miniature: pretraining, twins, added layers, a frozen base."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "prm"
    cmd = [sys.executable, "learn.py", "data.problems=8", "data.samples=2", "data.synthetic=4",
           "data.held_out=4", "data.twins=true", "pretrain.steps=2", "pretrain.batch_size=4",
           "train.steps=2", "train.batch_size=4", "train.add_layers=1", "train.freeze_base=true",
           f"out={out}", "progress=false"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 layers added on the base's 4; the base frozen" in done.stdout
    report = json.loads((out / "learn.json").read_text())
    assert report["pretrain_seconds"] > 0 and report["config"]["train"]["add_layers"] == 1
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 5
    rows = [json.loads(line) for line in (out / "prm_data.jsonl").read_text().splitlines()]
    assert report["train_records"] == len(rows)
    # the policy's samples less the held-out ones, 4 synthetic, and a twin per wrong sample
    plain = report["records"] - 4 + 4
    assert report["train_records"] > plain
    assert sum(all(r["labels"]) for r in rows) >= report["train_records"] - plain
