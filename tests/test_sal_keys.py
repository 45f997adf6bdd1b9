"""search-and-learn's command-line keys get a hint naming ttscale's key."""

from __future__ import annotations

import pytest

from ttscale.config import ConfigError, validate
from ttscale.config.hints import SAL_KEYS
from ttscale.sweep.hydra import compose, override_hints

EXPECTED = {
    "model_path": "model.path",
    "prm_path": "prm.path",
    "hub_dataset_id": "storage.repo_id",
    "num_samples": "dataset.num_samples",
    "beam_width": "approach.beam_width",
    "search_batch_size": "model.batch_size",
    "dataset_name": "dataset.name",
    "dataset_split": "dataset.split",
    "temperatures": "temperature_schedule.temperatures",
    "temperature_ratios": "temperature_schedule.ratios",
}


@pytest.mark.parametrize(("key", "ours"), sorted(EXPECTED.items()))
def test_each_sal_key_gets_an_exact_hint(key, ours) -> None:
    (hint,) = override_hints([f"{key}=4"])
    assert f"'{key}' is search-and-learn's key" in hint and ours in hint
    assert key in SAL_KEYS


def test_a_sal_key_added_with_plus_fails_validation_with_the_same_hint() -> None:
    with pytest.raises(
        ConfigError, match=r"'num_samples' is search-and-learn's key; .*dataset\.num_samples"
    ):
        validate(compose("+num_samples=4"))
