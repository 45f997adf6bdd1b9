"""How many CPU threads torch may use in this process.

torch defaults to every physical core of the machine. On a shared node (a Slurm job with a
few CPUs, or several runs on one workstation) that oversubscribes the cores and OpenMP threads
spin against each other, which is slower than fewer threads.

Measured (``bench/threads.py``, BENCHMARKS.md; 2 CPUs, the toy models): 2 threads took 0.65x
the time of 1 on an idle machine, and 2.31x beside one other CPU-bound process. So
``threads: null`` takes the CPUs this job may use (OMP_NUM_THREADS, SLURM_CPUS_PER_TASK:
given to it alone, all of them) less those that other processes keep busy right now, by the
1-minute load average (less this process's own share), at least 1. The choice and its reason
go into every chunk's environment record; ``threads=K`` pins it.
"""

from __future__ import annotations

import os
import time

# What the last set_torch_threads chose, and why (the environment record reports it).
last_choice: dict[str, object] = {}


def available_cpus() -> int:
    """CPUs this process may use: OMP_NUM_THREADS, then SLURM_CPUS_PER_TASK, then affinity."""
    for key in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"):
        value = os.environ.get(key, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def free_cpus(usable: int, host: int, load: float, own: float) -> int:
    """Of ``usable`` CPUs, those not kept busy by other processes: the machine's load
    average ``load`` over its ``host`` CPUs, less ``own`` (this process's share), scaled to
    our CPUs; at least 1."""
    others = max(0.0, load - own)
    busy = min(others, host) * usable / max(host, 1)
    return max(1, usable - round(busy))


def _own_share() -> float:
    """This process's CPU use per second since it started (about 1 while it computes)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as fh:
            started = int(fh.read().rsplit(")", 1)[1].split()[19]) / ticks
        with open("/proc/uptime") as fh:
            alive = float(fh.read().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return 0.0
    t = os.times()
    # The load average looks back about a minute: count at most that much of our own past.
    return min(1.0, (t.user + t.system) / max(alive, 1.0)) * min(1.0, alive / 60.0)


def default_threads() -> tuple[int, str]:
    """``threads: null``'s choice and its reason."""
    usable = available_cpus()
    for key in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"):
        if os.environ.get(key, "").strip().isdigit():
            return usable, f"{key}={usable}"
    if usable == 1 or not hasattr(os, "getloadavg"):
        return usable, f"{usable} usable CPU(s)"
    load, own = os.getloadavg()[0], _own_share()
    n = free_cpus(usable, os.cpu_count() or usable, load, own)
    return n, f"{usable} usable CPUs, load average {load:.2f} (this process {own:.2f})"


def set_torch_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None: :func:`default_threads`); returns the number set."""
    import torch

    if threads is not None:
        n, why = threads, "threads= in the config"
    else:
        n, why = default_threads()
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    last_choice.update(threads=n, reason=why, at=time.time())
    return n
