"""The one retry policy: exponential backoff with jitter, and a server's Retry-After honoured.

Both retrying clients (the Hub store's sync calls, the OpenAI backend's async requests) ask
this module how long to wait; each keeps only the loop its I/O model needs.
"""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): within [b/2, b], b = base * 2**(attempt-1).

    Half fixed, half random ("equal jitter"): tasks that failed together do not retry
    together, and every retry still waits at least half its step.
    """
    step = min(cap, base * 2 ** (attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


def retry_after(value: object, cap: float) -> float | None:
    """Seconds from a ``Retry-After`` header value (capped at ``cap``); None when absent,
    unparseable or an HTTP date (then our own backoff applies)."""
    try:
        return min(cap, max(0.0, float(value))) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def delay(
    attempt: int,
    base: float,
    cap: float,
    header: object = None,
    rng: random.Random | None = None,
) -> float:
    """The wait before retry ``attempt``: the backoff, or the server's Retry-After if longer."""
    wait = backoff(attempt, base, cap, rng)
    asked = retry_after(header, cap)
    return max(wait, asked) if asked is not None else wait
