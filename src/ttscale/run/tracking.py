"""Experiment tracking: wandb (offline by default: no key, no network) or nothing.

A run logs its config (flattened, so sweeps group by column; secrets redacted), its summary
metrics, the accuracy-vs-n curves as wandb plots, and a sample table of completions. Shards
of one run share a wandb group (the run name, or ``tracking.group`` for a whole sweep); the
merge job logs the merged metrics into the same group with ``job_type="merge"``. Offline runs
land under ``tracking.dir/wandb/offline-run-*``; upload them later with
``wandb sync --yes <dir>/wandb/offline-run-*``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ttscale.redact import hide, secret_values
from ttscale.redact import redact as redact_value

__all__ = ["Tracker", "accuracy_curves", "flatten", "redact"]

# Values that look like credentials whatever their key: HF tokens, OpenAI/wandb-style keys.
_METRIC = re.compile(r"(naive|weighted|maj|pass)@(\d+)")


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


def redact(cfg: dict[str, Any], secrets: set[str] | None = None) -> dict[str, Any]:
    """A flat config with secrets as ``***``: :func:`ttscale.redact.redact` with value
    scrubbing (``secrets``, default: secret-named environment variables)."""
    secrets = secret_values(env=os.environ) if secrets is None else secrets
    return {k: redact_value(v, k, secrets) for k, v in cfg.items()}


def accuracy_curves(metrics: Mapping[str, float]) -> tuple[list[int], dict[str, list[float]]]:
    """``(ns, {method: accuracy per n})`` from ``maj@n``-style keys; methods missing an n drop."""
    found: dict[str, dict[int, float]] = {}
    for key, value in metrics.items():
        m = _METRIC.fullmatch(key)
        if m:
            found.setdefault(m.group(1), {})[int(m.group(2))] = float(value)
    ns = sorted({n for per in found.values() for n in per})
    return ns, {k: [per[n] for n in ns] for k, per in found.items() if set(per) == set(ns)}


def _short(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _at(row: Mapping[str, Any], column: str, j: int) -> Any:
    """``row[column][j]``, or None when the column is absent or short."""
    values = row.get(column)
    return values[j] if values is not None and j < len(values) else None


class Tracker:
    """Logs a run to wandb; every method is a no-op for ``tracking=none``.

    Args:
        tracking: The ``tracking`` config (name, project, entity, mode, group, dir).
        config: The run's config (nested dict); logged flattened and redacted.
        name: The wandb run name (the run name, plus the chunk for a shard).
        job_type: ``"shard"`` for a task, ``"merge"`` for the merge job.
        group: The group when ``tracking.group`` is unset (default ``name``): a run's shards
            pass the run name, so they and the merge job group together.
    """

    def __init__(
        self,
        tracking: Any,
        *,
        config: dict[str, Any],
        name: str,
        job_type: str = "shard",
        group: str | None = None,
    ) -> None:
        self.run = None
        if tracking.name != "wandb":
            return
        # secrets of the config and the environment, scrubbed from logged text (completions)
        self._secrets = secret_values(config, env=os.environ)
        os.environ.setdefault("WANDB_MODE", tracking.mode)
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        self.run = wandb.init(
            project=tracking.project,
            entity=tracking.entity,
            mode=tracking.mode,
            group=tracking.group or group or name,
            job_type=job_type,
            name=name,
            dir=tracking.dir,
            config=redact(flatten(config), self._secrets),
            reinit="finish_previous",
        )

    def log_summary(
        self, metrics: dict[str, float], rows: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """Summary metrics, their accuracy-vs-n curves, and (given rows) a sample table."""
        if self.run is None:
            return
        self.run.summary.update(metrics)
        self.run.log(metrics)
        self.log_curves(metrics)
        if rows:
            self.log_samples(rows)

    def log_curves(self, metrics: Mapping[str, float], *, prefix: str = "") -> None:
        """Accuracy vs n: one wandb line plot (a series per method) and its data table."""
        if self.run is None:
            return
        import wandb

        ns, curves = accuracy_curves(metrics)
        if not ns:
            return
        methods = sorted(curves)
        table = wandb.Table(
            columns=["n", "method", "accuracy"],
            data=[[n, m, curves[m][i]] for m in methods for i, n in enumerate(ns)],
        )
        plot = wandb.plot.line_series(
            xs=ns,
            ys=[curves[m] for m in methods],
            keys=[f"{m}@n" for m in methods],
            title="accuracy vs n",
            xname="n",
        )
        self.run.log({f"{prefix}accuracy_vs_n": plot, f"{prefix}accuracy_table": table})

    def log_samples(
        self, rows: Sequence[Mapping[str, Any]], *, problems: int = 8, completions: int = 4
    ) -> None:
        """A table of the first ``problems`` problems x ``completions`` completions each."""
        if self.run is None:
            return
        import wandb

        columns = ["unique_id", "level", "problem", "gold", "completion", "answer", "correct",
                   "score", "temperature"]  # fmt: skip
        data = []
        for row in rows[:problems]:
            texts = row.get("completions") or []
            for j, text in enumerate(texts[:completions]):
                data.append([str(row.get("unique_id")), row.get("level"),
                             _short(row.get("problem"), 500), str(row.get("answer")),
                             _short(hide(text, self._secrets), 2000), _at(row, "answers", j),
                             _at(row, "correct", j), _at(row, "agg_scores", j),
                             _at(row, "temperatures", j)])  # fmt: skip
        self.run.log({"samples": wandb.Table(columns=columns, data=data)})

    def log_merged(
        self,
        metrics: dict[str, float],
        rows: Sequence[Mapping[str, Any]] | None = None,
        *,
        chunks: int | None = None,
        missing: Sequence[str] = (),
    ) -> None:
        """For the merge job: merged metrics and curves, chunk counts, and missing chunks."""
        if self.run is None:
            return
        extra: dict[str, Any] = {"merge/missing_chunks": len(missing)}
        if chunks is not None:
            extra["merge/chunks"] = chunks
        if missing:
            extra["merge/missing"] = json.dumps(list(missing))
        self.run.summary.update(extra)
        self.log_summary(metrics, rows)

    def finish(self) -> None:
        """Close the wandb run (idempotent)."""
        if self.run is not None:
            self.run.finish()
            self.run = None
