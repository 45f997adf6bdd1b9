"""'Did you mean ...?' for a mistyped config key.

Hydra rejects ``approach.beamwidth=4`` with "Key 'beamwidth' is not in struct" and suggests
``+approach.beamwidth=4``, which ttscale then rejects as an unknown key. These hints name the
key the user most likely meant instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

# search-and-learn's command-line keys and what ttscale calls them (docs/migration.md).
SAL_KEYS = {
    "model_path": "model.path (or a preset: model=llama-3.2-1b-instruct)",
    "prm_path": "prm.path, with the family as the preset: prm=rlhflow-8b (or math-shepherd, "
    "skywork-1.5b, qwen2.5-math-prm-7b)",
    "hub_dataset_id": "storage=hub storage.repo_id=USER/NAME",
    "push_to_hub": "storage=hub",
    "output_dir": "storage.results_dir",
    "num_samples": "dataset.num_samples",
    "dataset_name": "dataset.name (a file: dataset.source=file dataset.path=...)",
    "dataset_split": "dataset.split",
    "dataset_start": "dataset.start",
    "dataset_end": "dataset.end",
    "beam_width": "approach.beam_width",
    "num_iterations": "approach.num_iterations",
    "lookahead": "approach.lookahead",
    "search_batch_size": "nothing: every approach advances all problems of a shard together "
    "(model.batch_size sets the generator's batch)",
    "prm_batch_size": "prm.batch_size",
    "system_prompt": "model.system_prompt",
    "temperatures": "temps=hnc temperature_schedule.temperatures=[0.4,0.8]",
    "temperature_ratios": "temps=hnc temperature_schedule.ratios=[0.5,0.5]",
}


def sal_hint(key: str) -> str | None:
    """The hint for a search-and-learn key (``num_samples`` -> ``dataset.num_samples``)."""
    name = key.lstrip("+~")
    if name not in SAL_KEYS:
        return None
    return f"{name!r} is search-and-learn's key; ttscale's is {SAL_KEYS[name]}"


def close_key(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``key``, if any is close enough to be a typo of it."""
    match = difflib.get_close_matches(key, [c for c in candidates if c != key], n=1, cutoff=0.6)
    return match[0] if match else None


def as_typed(message: str, choices: Mapping[str, str | None]) -> str:
    """Name a family as the preset the user chose: ``prm=toy (prm.name=likelihood)``.

    Checks speak of ``prm.name``, the adapter family; a user who typed ``prm=toy`` never saw
    that name. ``choices`` are Hydra's ``runtime.choices`` (group -> chosen preset).
    """
    for group, preset in choices.items():
        if not preset or "/" in group:
            continue

        def name(m: re.Match[str], group: str = group, preset: str = preset) -> str:
            return m[0] if m[1] == preset else f"{group}={preset} ({m[0]})"

        message = re.sub(
            rf"(?<![\w.]){re.escape(group)}\.name=([\w-]+(?:\.\w[\w-]*)*)", name, message
        )
    return message
