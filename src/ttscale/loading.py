"""Model files that fail to load are the user's input: one line naming the key, exit 2.

A corrupt ``config.json``, a truncated or random ``model.safetensors``, a broken
``tokenizer.json``: transformers raises a dozen types for these, with long tracebacks. Every
model load goes through :func:`loading`, which turns any of them into a
:class:`~ttscale.config.ConfigError` ``model.path: cannot load '...': <cause>``. A PRM whose
checkpoint lacks the family's head (a policy given as ``prm=skywork``) would have that head
newly initialised and write random scores: :func:`check_loaded` makes that an error too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def loading(key: str, path: str) -> Iterator[None]:
    """Re-raise any failure inside as ``ConfigError("{key}: cannot load {path!r}: ...")``."""
    from ttscale.errors import ConfigError

    try:
        yield
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - every loader failure means unusable files
        first = (str(err).strip().splitlines() or [""])[0][:300]
        raise ConfigError(f"{key}: cannot load {path!r}: {type(err).__name__}: {first}") from None


def check_loaded(key: str, path: str, info: dict[str, Any]) -> None:
    """Refuse weights that transformers had to initialise (``output_loading_info``)."""
    from ttscale.errors import ConfigError

    missing = sorted(info.get("missing_keys") or [])
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise ConfigError(
            f"{key}: {path!r} has no weights for {shown}: they would be newly initialised "
            "and give random scores (is it a checkpoint of this PRM family, prm.name?)"
        )
