"""Compute in FLOPs: each model's parameter count, read from its files, and the 2N rule.

FLOPs of a forward pass over T tokens ~= 2 x N x T, N the model's parameters (a multiply and
an add per weight per token; attention's context-length term is left out, as in the usual
scaling-law accounting). Tokens are those actually computed: generated tokens, plus prompt
tokens after any prefix reuse (``prompt_tokens``), plus the PRM's inputs (``prm_tokens``);
tokens served from a cache are counted apart and cost nothing here.

N is the sum of every tensor's size in the folder's ``*.safetensors`` headers (shapes only,
no weights are read; a tied embedding is stored, and counted, once). A Hub id is looked up
in the local Hugging Face cache, where a GPU cluster's runs find their weights (never
downloaded: ``local_files_only``). A model found in neither (a remote server's own name, a
Hub id not on disk) has no count: its FLOPs are NaN.
"""

from __future__ import annotations

import json
import math
import struct
from functools import lru_cache
from pathlib import Path


def count_parameters(path: str | None, cache_dir: str | None = None) -> int | None:
    """Parameters of the model in folder ``path`` (or one ``.safetensors`` file, or a Hub id in
    the local Hugging Face cache, ``cache_dir`` or the default one), else None."""
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        p = _cached_snapshot(path, cache_dir) or p
    files = sorted(p.glob("*.safetensors")) if p.is_dir() else [p]
    files = [f for f in files if f.suffix == ".safetensors" and f.is_file()]
    if not files:
        return None
    try:
        return sum(_tensor_sizes(str(f), f.stat().st_mtime_ns) for f in files)
    except (OSError, ValueError):
        return None


def _cached_snapshot(repo_id: str, cache_dir: str | None) -> Path | None:
    """The local snapshot folder of Hub model ``repo_id``, if its files are cached."""
    if repo_id.count("/") != 1 or repo_id.startswith(("/", ".")):
        return None
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            repo_id, cache_dir=cache_dir, local_files_only=True, allow_patterns=["*.safetensors"]
        )
    except Exception:  # not cached, not a valid id, no huggingface_hub: no count
        return None
    return Path(folder)


@lru_cache(maxsize=64)
def _tensor_sizes(path: str, _mtime: int) -> int:
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        if length > 100_000_000:
            raise ValueError(f"{path}: not a safetensors header")
        header = json.loads(fh.read(length))
    return sum(
        math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__" and "shape" in t
    )


def flops(parameters: int | None, tokens: int) -> float:
    """``2 * N * tokens``; NaN when N is unknown (0 tokens cost 0 either way)."""
    if tokens == 0:
        return 0.0
    return math.nan if parameters is None else 2.0 * parameters * tokens
