"""Experiment tracking: wandb (offline by default: no key, no network) or nothing."""

from __future__ import annotations

import os
from typing import Any

SECRET_MARKERS = ("api_key", "token", "secret", "password")


def flatten(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"name": x}}`` -> ``{"model.name": x}``, so sweeps group by column."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def redact(cfg: dict[str, Any]) -> dict[str, Any]:
    """Replace the values of secret-looking keys (api_key, token, ...) by ``"***"``."""
    return {
        k: ("***" if v and any(m in k.lower() for m in SECRET_MARKERS) else v)
        for k, v in cfg.items()
    }


class Tracker:
    """Logs a run's config and summary; a no-op for ``tracking=none``."""

    def __init__(self, tracking, *, config: dict[str, Any], name: str, job_type: str = "shard"):
        self.run = None
        if tracking.name != "wandb":
            return
        os.environ.setdefault("WANDB_MODE", tracking.mode)
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.run = wandb.init(
            project=tracking.project,
            entity=tracking.entity,
            mode=tracking.mode,
            group=tracking.group or name,
            job_type=job_type,
            name=name,
            dir=tracking.dir,
            config=redact(flatten(config)),
            reinit="finish_previous",
        )

    def log_summary(self, metrics: dict[str, float]) -> None:
        if self.run is not None:
            self.run.summary.update(metrics)
            self.run.log(metrics)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
