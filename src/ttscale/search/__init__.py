"""Search approaches, registered by name: ``approach=<name>`` on the command line."""

from __future__ import annotations

from ttscale.registry import Registry

APPROACHES: Registry[type] = Registry("approach")


def whole_solution(name: str) -> bool:
    """Whether approach ``name`` samples whole solutions (its n-subsets are valid samples)."""
    return name in APPROACHES and APPROACHES.get(name).Options.whole_solution


# Importing a module registers its approaches.
from ttscale.search import (  # noqa: E402,F401
    adaptive,
    backtrack,
    beam_search,
    deepconf,
    dvts,
    sampling,  # noqa: E402,F401
    voting,  # noqa: E402,F401
)
