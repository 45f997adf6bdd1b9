"""Where the checkout is: ``conf/``, ``models/`` and default results live under it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
