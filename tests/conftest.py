"""Shared fixtures: the real composed config, the committed tiny models, the shared datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttscale.sweep.hydra import compose  # noqa: F401  (re-exported for tests)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
POLICY = ROOT / "models" / "toy-policy"
TOY_PRM = ROOT / "models" / "toy-prm"


@pytest.fixture
def make_cfg(tmp_path):
    """compose() with results and logs under tmp_path and progress bars off."""

    def make(*overrides: str):
        return compose(f"storage.results_dir={tmp_path / 'results'}", "progress=false", *overrides)

    return make


@pytest.fixture(scope="session")
def policy_path() -> str:
    if not (POLICY / "config.json").is_file():
        pytest.skip("models/toy-policy not trained yet (scripts/train_toy_models.py)")
    return str(POLICY)


@pytest.fixture(scope="session")
def char_tokenizer():
    """The toy world's character tokenizer (built in memory)."""
    from ttscale.toyworld.tokenizer import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="session")
def prm_path() -> str:
    if not (TOY_PRM / "config.json").is_file():
        pytest.skip("models/toy-prm not trained yet (scripts/train_toy_models.py)")
    return str(TOY_PRM)


@pytest.fixture(scope="session")
def hf_generator(policy_path):
    from ttscale.backends.hf import HFGenerator

    return HFGenerator(policy_path, batch_size=16, progress=False)


@pytest.fixture(scope="session")
def math500() -> Path:
    path = SHARED / "math500.jsonl"
    if not path.is_file():
        pytest.skip("../shared/datasets/math500.jsonl is absent")
    return path


@pytest.fixture(scope="session")
def real_vocab():
    """``real_vocab("llama3" | "qwen2" | "llama2")``: a real tokenizer folder (tests/vocab.py)."""
    from tests.vocab import tokenizer_folder

    def get(which: str) -> Path:
        try:
            return tokenizer_folder(which)
        except (OSError, ImportError) as err:
            pytest.skip(f"real {which} vocabulary unavailable: {type(err).__name__}: {err}")

    return get
