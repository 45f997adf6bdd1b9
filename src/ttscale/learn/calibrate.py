"""The likelihood PRM's calibration: a logistic fit of step labels on the log-likelihood.

:class:`~ttscale.prm.likelihood.LikelihoodPRM` scores step k by ``sigmoid(scale * L_k +
bias)``. Its labels are cumulative (Math-Shepherd's): step k is good iff no step up to k is
wrong. The fit reads ``L_k`` through the saved model exactly as inference does, and writes
``scale`` and ``bias`` into its ``config.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ttscale.files import atomic_write_bytes
from ttscale.learn.labels import Labelled
from ttscale.prm.likelihood import CONFIG_KEY, LikelihoodPRM

RIDGE = 1e-2  # on the standardised slope: finite when the labels separate perfectly


def fit_logistic(
    x: Sequence[float], y: Sequence[bool], iterations: int = 50
) -> tuple[float, float]:
    """``(scale, bias)`` maximising the log-likelihood of ``y`` under ``sigmoid(scale*x+bias)``
    (Newton's method on standardised ``x``, a small ridge on the slope)."""
    if not x or len(set(y)) < 2:
        raise ValueError("calibration needs both good and bad steps")
    xs = torch.tensor(x, dtype=torch.float64)
    ys = torch.tensor(y, dtype=torch.float64)
    mean, std = xs.mean(), xs.std().clamp_min(1e-12)
    design = torch.stack([(xs - mean) / std, torch.ones_like(xs)], 1)
    w = torch.zeros(2, dtype=torch.float64)
    ridge = torch.diag(torch.tensor([RIDGE, 0.0], dtype=torch.float64))
    for _ in range(iterations):
        p = torch.sigmoid(design @ w)
        grad = design.T @ (p - ys) + ridge @ w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + ridge
        step = torch.linalg.solve(hess + 1e-9 * torch.eye(2, dtype=torch.float64), grad)
        w -= step
        if step.abs().max() < 1e-10:
            break
    scale = float(w[0] / std)
    return scale, float(w[1] - scale * mean)


def calibrate(folder: Path, records: Sequence[Labelled], batch_size: int = 64) -> dict[str, Any]:
    """Fit ``folder``'s likelihood PRM on ``records`` and write the fit into its config."""
    prm = LikelihoodPRM(str(folder), raw=True, batch_size=batch_size)
    totals = prm.score([r.problem for r in records], [r.steps for r in records]).scores
    x = [v for t in totals for v in t]
    y = [r.earliest_error == -1 or k < r.earliest_error
         for r in records for k in range(len(r.steps))]  # fmt: skip
    scale, bias = fit_logistic(x, y)
    fit = {"scale": scale, "bias": bias, "steps": len(x), "good": sum(y)}
    if not all(map(math.isfinite, (scale, bias))):
        raise ValueError(f"likelihood calibration did not converge: {fit}")
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config[CONFIG_KEY] = fit
    atomic_write_bytes(path, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    return fit
