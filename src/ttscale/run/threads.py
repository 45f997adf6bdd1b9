"""How many CPU threads torch may use in this process.

torch defaults to every physical core of the machine. On a shared node (a Slurm job with a
few CPUs, or several runs on one workstation) that oversubscribes the cores and OpenMP threads
spin against each other, which is slower than fewer threads.
"""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may use: OMP_NUM_THREADS, then SLURM_CPUS_PER_TASK, then affinity."""
    for key in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"):
        value = os.environ.get(key, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def set_torch_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None: :func:`available_cpus`); returns the number set."""
    import torch

    n = threads if threads is not None else available_cpus()
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n
