"""PNG plots (matplotlib, Agg backend): accuracy curves and difficulty heatmaps."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Series", "heatmap", "line_plot", "slug"]

_MARKERS = "os^Dv<>ph*"


@dataclass
class Series:
    """One line: ``y`` (fractions 0-1) against ``x``, with optional +/- ``err`` (std)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    err: Sequence[float] | None = None
    marker: str | None = None  # default: a different one per line, so overlaps stay visible
    linestyle: str = "-"


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "plot"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Write atomically: a reader of the report never sees half a PNG."""
    import io

    from ttscale.storage import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def line_plot(
    path: Path | None,
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str = "accuracy (%)",
    log2x: bool = True,
) -> Path | None:
    """Lines with error bands; y in percent; x on a log2 axis with plain-number ticks.

    Returns the path written, or None (nothing drawn) when ``path`` is None.
    """
    if path is None:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    try:
        xs: set[float] = set()
        for i, s in enumerate(series):
            y = [100 * v for v in s.y]
            marker = s.marker or _MARKERS[i % len(_MARKERS)]
            (line,) = ax.plot(
                s.x, y, marker=marker, linestyle=s.linestyle, label=s.label, linewidth=1.8
            )
            if s.err is not None and any(e > 0 for e in s.err):
                lo = [a - 100 * e for a, e in zip(y, s.err)]
                hi = [a + 100 * e for a, e in zip(y, s.err)]
                ax.fill_between(s.x, lo, hi, alpha=0.15, color=line.get_color(), linewidth=0)
            xs.update(float(v) for v in s.x if math.isfinite(v))
        if log2x and xs and min(xs) > 0:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_xscale("log", base=2)
            ticks = sorted(xs)
            apart = all(b >= 1.5 * a for a, b in zip(ticks, ticks[1:]))
            if len(ticks) <= 10 and apart:  # n = 1, 2, 4, ...: tick exactly those
                ax.set_xticks(ticks)  # (close values, e.g. token counts 347 and 350, would overlap)
            # plain numbers ("256", "1400"), not "2^8"
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif xs and len(xs) <= 10:
            ax.set_xticks(sorted(xs))
        ax.set_title(title, fontsize=12)
        ax.set_xlabel(xlabel, fontsize=11)
        ax.set_ylabel(ylabel, fontsize=11)
        ax.grid(True, alpha=0.3)
        if len(series) > 3:  # many lines: the legend goes beside the axes, never over data
            ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        elif series:
            ax.legend(fontsize=9, loc="best")
        return _save(fig, path)
    finally:
        plt.close(fig)


def heatmap(
    path: Path | None,
    values: Sequence[Sequence[float]],
    *,
    rows: Sequence[str],
    cols: Sequence[str],
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path | None:
    """A heatmap of percentages (NaN cells blank), each cell annotated; None if ``path`` is."""
    if path is None:
        return None
    import numpy as np

    plt = _pyplot()
    data = np.array(values, dtype=float) * 100
    fig, ax = plt.subplots(
        figsize=(max(5.0, 1.1 * len(cols) + 2.5), max(3.0, 0.6 * len(rows) + 1.8))
    )
    try:
        im = ax.imshow(np.ma.masked_invalid(data), cmap="viridis", vmin=0, vmax=100, aspect="auto")
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels(cols, rotation=30, ha="right", fontsize=9)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows, fontsize=9)
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                if math.isfinite(data[i, j]):
                    color = "white" if data[i, j] < 60 else "black"
                    ax.text(j, i, f"{data[i, j]:.0f}", ha="center", va="center", color=color)
        fig.colorbar(im, ax=ax, label="accuracy (%)")
        ax.set_title(title, fontsize=12)
        ax.set_xlabel(xlabel, fontsize=11)
        ax.set_ylabel(ylabel, fontsize=11)
        return _save(fig, path)
    finally:
        plt.close(fig)
