"""Compute in FLOPs: each model's parameter count, read from its files, and the 2N rule.

FLOPs of a forward pass over T tokens ~= 2 x N x T, N the model's parameters (a multiply and
an add per weight per token; attention's context-length term is left out, as in the usual
scaling-law accounting). Tokens are those actually computed: generated tokens, plus prompt
tokens after any prefix reuse (``prompt_tokens``), plus the PRM's inputs (``prm_tokens``);
tokens served from a cache are counted apart and cost nothing here.

N is the sum of every tensor's size in the folder's ``*.safetensors`` headers (shapes only,
no weights are read; a tied embedding is stored, and counted, once). A model that is not a
local folder (a Hub id not on disk, a remote server's name) has no count: its FLOPs are NaN.
"""

from __future__ import annotations

import json
import math
import struct
from functools import lru_cache
from pathlib import Path


def count_parameters(path: str | None) -> int | None:
    """Parameters of the model in folder ``path`` (or one ``.safetensors`` file), else None."""
    if not path:
        return None
    p = Path(path)
    files = sorted(p.glob("*.safetensors")) if p.is_dir() else [p]
    files = [f for f in files if f.suffix == ".safetensors" and f.is_file()]
    if not files:
        return None
    try:
        return sum(_tensor_sizes(str(f), f.stat().st_mtime_ns) for f in files)
    except (OSError, ValueError):
        return None


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
