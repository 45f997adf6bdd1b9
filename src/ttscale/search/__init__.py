"""Search approaches, registered by name: ``approach=<name>`` on the command line."""

from __future__ import annotations

from ttscale.registry import Registry

APPROACHES: Registry[type] = Registry("approach")

# Importing a module registers its approaches.
from ttscale.search import sampling  # noqa: E402,F401
