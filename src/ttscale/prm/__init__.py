"""Process reward models behind one protocol, selected by ``prm.name`` in config."""

from __future__ import annotations

from typing import Any

from ttscale.registry import Registry
from ttscale.types import PRM

PRMS: Registry[PRM] = Registry("prm")
PRMS.add("math_shepherd", "ttscale.prm.math_shepherd:MathShepherdPRM")
PRMS.add("oracle", "ttscale.prm.oracle:OraclePRM")


def build_prm(name: str, **kwargs: Any) -> PRM | None:
    """Build the PRM registered as ``name``; ``none`` gives no PRM."""
    if name == "none":
        return None
    return PRMS.build(name, **kwargs)
