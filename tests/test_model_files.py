"""Model files that cannot load, or would load with new weights: one line naming the key."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import POLICY
from ttscale.config import ConfigError


def _copy(tmp_path, damage: str):
    folder = tmp_path / "policy"
    shutil.copytree(POLICY, folder)
    if damage == "config.json":
        (folder / "config.json").write_text('{"model_type": "llama", ')
    elif damage == "truncated weights":
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    elif damage == "random weights":
        (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    elif damage == "tokenizer.json":
        (folder / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    return folder


@pytest.mark.parametrize(
    "damage", ["config.json", "truncated weights", "random weights", "tokenizer.json"]
)
def test_a_damaged_model_folder_is_one_line_naming_model_path(tmp_path, damage, make_cfg):
    from ttscale.run.pipeline import main

    folder = _copy(tmp_path, damage)
    cfg = make_cfg(f"model.path={folder}", "dataset.num_samples=1", "n=1", "approach=majority")
    with pytest.raises(ConfigError, match=rf"model.path: cannot load '{folder}': \w+"):
        main(cfg)


def test_a_policy_given_as_a_value_head_prm_is_refused(policy_path):
    # Skywork's value head is not in a policy checkpoint: it would be newly initialised,
    # and its scores random.
    from ttscale.prm.skywork import SkyworkPRM

    with pytest.raises(ConfigError, match=r"prm.path: .*(has no weights|cannot load)"):
        SkyworkPRM(policy_path, device="cpu")


def test_the_toy_prm_loads_with_every_weight(prm_path):
    from ttscale.prm.likelihood import LikelihoodPRM

    assert LikelihoodPRM(prm_path, device="cpu").model is not None
