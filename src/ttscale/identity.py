"""A run's identity: every setting that can change a row, as data and as a short fingerprint.

The identity is the validated config minus :data:`IGNORED`, an explicit list of settings
that cannot change a row (progress bars, threads, worker counts, where results go, ...).
Everything else is in, so a new config key is part of the identity unless someone decides
otherwise here. Secrets are never part of it (they are dropped, not masked).

Paths are not enough: a model retrained in place keeps its path, a dataset file edited in
place keeps its name. So the identity also holds a content fingerprint of every local model
folder and dataset file (``model.content``, ``prm.content``, ``dataset.content``): of a
folder, its weight, config and tokenizer files; each by its size and its first and last MiB
(cheap for a 15 GB checkpoint, and a retrain rewrites both ends). Hub ids have none (the id is
their name; pin a revision in the id to pin the weights).

Every chunk and merged summary records ``identity`` and ``fingerprint``; a run's results
folder includes the fingerprint, and every reader (the pipeline's skip, the merge,
find_missing, the analysis) refuses rows of another fingerprint, naming the keys that differ.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["IGNORED", "differences", "fingerprint", "identity", "prm_label", "run_prefix"]

VERSION = 1
_CONTENT_OF = {
    "model.path": "model.content",
    "prm.path": "prm.content",
    "dataset.path": "dataset.content",
}
_EDGE = 1 << 20  # bytes read at each end of a large file
# Settings that cannot change a row. Prefixes match whole sections ("storage" is every
# storage.* key). Row ranges (dataset.start/end/num_samples, shard.*) are in a chunk's name;
# metrics.* only shape summaries, which every merge recomputes from the rows.
IGNORED = (
    "progress",
    "threads",
    "overwrite",
    "checkpoint_every",
    "force_limits",
    "shard",
    "storage",
    "tracking",
    "metrics",
    "grading.workers",
    "dataset.start",
    "dataset.end",
    "dataset.num_samples",
    "model.name",  # a folder label: the weights are model.path
    "model.batch_size",
    "model.prefix_cache_mb",  # a memory cap: the same completions
    "model.gpu_memory_utilization",
    "model.concurrency",
    "model.timeout",
    "model.max_retries",
    "model.retry_backoff",
    "model.fail_after",
    "model.serve",
    "model.base_url",  # where a server runs (and may hold a password), not what it serves
    "model.api_key",
    "prm.batch_size",
    "prm.gpu_memory_utilization",
    "prm.prefix_cache_mb",  # the same scores, computed incrementally
)
_PATH_KEYS = ("model.path", "model.tokenizer", "prm.path", "dataset.path")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value and not full.endswith(("_kwargs", "extra_body")):
            out.update(_flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def _ignored(key: str) -> bool:
    return any(key == k or key.startswith(f"{k}.") for k in IGNORED)


def _portable(value: Any) -> Any:
    """A path inside the checkout, relative to it: a moved or re-cloned checkout keeps ids."""
    from ttscale.paths import ROOT

    if isinstance(value, str) and value.startswith("/"):
        try:
            return str(Path(value).resolve().relative_to(ROOT))
        except ValueError:
            return value.rstrip("/")
    return value


def identity(run: Any) -> dict[str, Any]:
    """The settings of a validated :class:`~ttscale.config.RunConfig` that can change a row.

    Args:
        run: The validated config. An approach that reads no PRM (``run.uses_prm`` false)
            gets no ``prm.*`` keys, so its identity does not depend on them; ``scorer.*``
            keys count only for a confidence scorer.

    Returns:
        Flat ``{dotted key: value}``, sorted, JSON-serialisable, without secrets.
    """
    from ttscale.redact import is_secret_key, redact

    flat = _flatten(run.model_dump(mode="json"))
    out = {}
    for key in sorted(flat):
        if _ignored(key) or is_secret_key(key):
            continue
        if key.startswith("prm.") and not run.uses_prm:
            continue
        if key.startswith("scorer.") and run.scorer_name in ("prm", "none"):
            continue  # the PRM's keys (or none) say it all; older identities stay valid
        value = _portable(flat[key]) if key in _PATH_KEYS else flat[key]
        out[key] = redact(value)  # a URL's password, wherever one is
        if key in _CONTENT_OF and isinstance(flat[key], str):
            digest = content_fingerprint(flat[key])
            if digest is not None:
                out[_CONTENT_OF[key]] = digest
    return dict(sorted(out.items()))


def content_fingerprint(path: str) -> str | None:
    """12 hex digits of what a local file or model folder holds; None if it is not local."""
    p = Path(path)
    try:
        files = sorted(f for f in p.iterdir() if _model_file(f)) if p.is_dir() else [p]
        stats = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    except OSError:
        return None
    return _digest(stats) if files and p.exists() else None


_MODEL_SUFFIXES = (".safetensors", ".bin", ".pt", ".model", ".jinja", ".tiktoken")
_MODEL_NAMES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json")  # fmt: skip


def _model_file(f: Path) -> bool:
    """What defines a model folder's outputs (weights, config, tokenizer); not notes or data
    written beside it (learn.py's learn.json and jsonl files)."""
    return f.is_file() and (f.suffix in _MODEL_SUFFIXES or f.name in _MODEL_NAMES)


@lru_cache(maxsize=64)
def _digest(stats: tuple[tuple[str, int, int], ...]) -> str:
    """Keyed by (name, size, mtime) of every file, so a run hashes each folder once."""
    h = hashlib.sha256()
    for name, size, _ in stats:
        f = Path(name)
        h.update(f"{f.name}:{size}\n".encode())
        with open(f, "rb") as fh:
            if size <= 2 * _EDGE:
                h.update(fh.read())
            else:
                h.update(fh.read(_EDGE))
                fh.seek(size - _EDGE)
                h.update(fh.read(_EDGE))
    return h.hexdigest()[:12]


def fingerprint(ident: dict[str, Any]) -> str:
    """12 hex digits of the SHA-256 of the identity's canonical JSON."""
    text = json.dumps({"v": VERSION, **ident}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(old: dict[str, Any] | None, new: dict[str, Any], limit: int = 8) -> list[str]:
    """``key: old -> new`` for each identity key where two identities differ (None: unknown)."""
    if old is None:
        return ["(no identity recorded)"]
    keys = sorted(set(old) | set(new))
    out = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def prm_label(run: Any) -> str:
    """The scorer part of a results path: the PRM folder's name, else its family; a
    confidence scorer's name (``deepconf``); or ``none``."""
    if run.scorer_name != "prm":
        return run.scorer_name
    path = run.prm.path
    return Path(path.rstrip("/")).name if path else run.prm.name


def run_prefix(run: Any, ident: dict[str, Any] | None = None) -> str:
    """``{model}/{prm}/{approach}/{fingerprint}``: where a run's folder lives in a store.

    The leaf below it is the anchors' run name; the fingerprint level keeps runs whose
    names agree but whose settings differ (max_tokens, a prompt, PRM noise...) apart.
    ``ident``: the run's identity when the caller has it already.
    """
    fp = fingerprint(ident if ident is not None else identity(run))
    return f"{run.model.name}/{prm_label(run)}/{run.approach.name}/{fp}"
