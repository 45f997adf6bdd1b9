"""Checks that touch the file system but load no model, run before anything heavy starts.

``config.validate`` checks values (and does no I/O); these check that what the values point
at is usable: model and PRM folders exist, the PRM's tokenizer has its step and label
tokens. Each error names the config key and the path. Dataset rows are checked by ``data``
and the results folder by the store, also before any model loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttscale.config import ConfigError
from ttscale.data import DatasetError
from ttscale.errors import StorageError

# What run.py reports as "error: ..." with exit code 2 and no traceback: the user's input.
# Only the project's own types: a builtin error (FileNotFoundError...) is a bug, and shows
# its traceback.
BAD_INPUT: tuple[type[Exception], ...] = (ConfigError, DatasetError, StorageError)


def check_model_path(key: str, path: str) -> None:
    """A local model folder must exist and hold a ``config.json``; anything that does not
    look like a local path must be a valid Hub repo id (its existence needs the network)."""
    p = Path(path).expanduser()
    looks_local = path.startswith(("/", ".", "~")) or path.count("/") > 1 or p.exists()
    if looks_local:
        if p.is_file():
            raise ConfigError(f"{key}: {path!r} is a file, not a model folder")
        if not p.is_dir():
            raise ConfigError(f"{key}: no such model folder {path!r}")
        if not (p / "config.json").is_file():
            raise ConfigError(f"{key}: {path!r} is not a model folder (it has no config.json)")
        return
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(path)
    except HFValidationError:
        raise ConfigError(
            f"{key}: {path!r} is neither a model folder nor a valid Hub repo id"
        ) from None
    # Offline, a Hub id can only come from the local cache: check it is there.
    if constants.HF_HUB_OFFLINE and not isinstance(
        try_to_load_from_cache(path, "config.json"), str
    ):
        raise ConfigError(
            f"{key}: {path!r} is not a local folder and not in the Hub cache (HF_HUB_OFFLINE=1)"
        )


def check_prm_tokens(prm: Any) -> None:
    """The PRM family's token checks (step tag, label tokens, ``prm.token_ids`` pins), run
    with its tokenizer only (:func:`ttscale.prm.check_prm`), as a :class:`ConfigError`."""
    from ttscale.prm import check_prm

    try:
        check_prm(prm)
    except (OSError, ValueError) as err:
        msg = str(err) if str(err).startswith("prm.") else f"prm.path: {prm.path!r}: {err}"
        raise ConfigError(f"invalid config:\n  {msg}") from None


def check_prompt_lengths(run: Any, problems: Any) -> None:
    """Every prompt fits the model's context (``max_position_embeddings`` in its local
    ``config.json``), checked with its tokenizer before any weights load. Skipped where the
    tokenizer or the context length cannot be had without the network."""
    import json

    from ttscale.loading import loading
    from ttscale.prompts import build_prompt

    folder = Path(run.model.path).expanduser()
    try:
        context = json.loads((folder / "config.json").read_text())["max_position_embeddings"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    from transformers import AutoTokenizer

    with loading("model.path", str(folder)):
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=run.model.trust_remote_code
        )
    d = run.dataset
    where = f"dataset.path={d.path}" if d.source == "file" else f"dataset {d.name}"
    for p in problems:
        text = build_prompt(
            tokenizer, p.problem, run.model.system_prompt, run.model.chat_template_kwargs
        )
        size = len(tokenizer(text, add_special_tokens=False).input_ids)
        if size >= context:
            raise DatasetError(
                f"{where} row {p.index} (id {p.unique_id}): its prompt is {size} tokens, but "
                f"the model's context is {context} (max_position_embeddings in "
                f"{folder / 'config.json'})"
            )


def preflight(run: Any, problems: Any = ()) -> None:
    """Every check of this module that ``run`` needs; raises :class:`ConfigError`.

    ``problems``: the shard's rows, for the prompt-length check (none: skipped).
    """
    if run.model.backend in ("hf", "vllm"):
        check_model_path("model.path", run.model.path)
        if problems:
            check_prompt_lengths(run, problems)
    if run.uses_prm and run.prm.name != "oracle":
        check_model_path("prm.path", run.prm.path)
        check_prm_tokens(run.prm)
