"""'Did you mean ...?' for a mistyped config key.

Hydra rejects ``approach.beamwidth=4`` with "Key 'beamwidth' is not in struct" and suggests
``+approach.beamwidth=4``, which ttscale then rejects as an unknown key. These hints name the
key the user most likely meant instead.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def close_key(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``key``, if any is close enough to be a typo of it."""
    match = difflib.get_close_matches(key, [c for c in candidates if c != key], n=1, cutoff=0.6)
    return match[0] if match else None


def override_hints(argv: Sequence[str]) -> list[str]:
    """One hint per ``key=value`` override whose key the composed config lacks."""
    from omegaconf import DictConfig, OmegaConf

    from ttscale.config import ROOT, RunConfig, compose, known_keys

    groups = {p.name for p in (ROOT / "conf").iterdir() if p.is_dir()} | {"recipe"}
    pairs = [a.split("=", 1) for a in argv if "=" in a and not a.startswith(("-", "~"))]
    selections = [f"{k}={v}" for k, v in pairs if k.lstrip("+") in groups]
    try:
        cfg = compose(*selections)  # the groups as chosen, so their keys are there
    except Exception:  # noqa: BLE001 - a broken group choice has Hydra's own message
        return []
    hints = []
    for key, _value in pairs:
        if key.startswith(("+", "hydra")) or key in groups or "/" in key:
            continue
        if (
            OmegaConf.select(cfg, key, default=_ABSENT, throw_on_resolution_failure=False)
            is not _ABSENT
        ):
            continue
        parent, _, last = key.rpartition(".")
        node: Any = (
            OmegaConf.select(cfg, parent, default=None, throw_on_resolution_failure=False)
            if parent
            else cfg
        )
        keys = list(node.keys()) if isinstance(node, DictConfig) else []
        guess = close_key(
            last, keys + known_keys(None, RunConfig, parent.split(".") if parent else [])
        )
        if guess:
            full = f"{parent}.{guess}" if parent else guess
            # No value echoed: a mistyped secret key would not be recognised as secret.
            hints.append(f"hint: there is no key {key!r}; did you mean {full}?")
    return hints


def print_override_hints(argv: Sequence[str]) -> None:
    for hint in override_hints(argv):
        print(hint, file=sys.stderr)


_ABSENT = object()
