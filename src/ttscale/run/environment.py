"""What a shard actually ran on: resolved devices and dtypes, library versions, the GPU.

The config says ``device: auto``; that is not enough to reproduce a number, because the same
seeds give different samples on a CPU and a GPU (and in fp32 and bf16). Each chunk's summary
records this beside the config.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

PACKAGES = ("torch", "transformers", "vllm", "math-verify")


def _component(obj: Any) -> dict[str, Any] | None:
    """Device, dtype and prefix-cache cap (MiB, 0: off) of an in-process model (None for a
    server or no model)."""
    model = getattr(obj, "model", None)
    device = getattr(obj, "device", None)
    if device is None:
        return None
    dtype = getattr(obj, "dtype", None) or getattr(model, "dtype", None)
    cache = getattr(obj, "cache", None)
    return {"device": str(device), "dtype": str(dtype).removeprefix("torch."),
            "prefix_cache_mb": cache.max_bytes >> 20 if cache is not None else 0}  # fmt: skip


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _gpu() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(torch.cuda.current_device())


def environment(generator: Any = None, prm: Any = None) -> dict[str, Any]:
    """A JSON-able record of where this shard ran (no host names, paths or variables)."""
    import torch

    from ttscale.run import threads

    out: dict[str, Any] = {
        "versions": _versions(),
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "threads_reason": threads.last_choice.get("reason"),
        "gpu": _gpu(),
    }
    if generator is not None:
        out["generator"] = generator.describe()
    part = _component(prm)
    if part is not None:
        out["prm"] = part
    return out
