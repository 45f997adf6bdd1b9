"""The markdown report (tables + embedded PNGs) and the console tables."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ttscale.analysis.compare import Section
from ttscale.storage import atomic_write_bytes

__all__ = ["console_table", "markdown_table", "write_report"]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def console_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for c, w in zip(cells, widths):
            c = str(c)
            numeric = c[:1].isdigit() or c[:1] == "-"
            out.append(c.rjust(w) if numeric else c.ljust(w))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), "-" * (sum(widths) + 2 * (len(widths) - 1))]
                     + [line(r) for r in rows])  # fmt: skip


def write_report(
    path: Path, sections: Sequence[Section], *, title: str, preamble: Sequence[str] = ()
) -> Path:
    """Write the markdown report atomically; figures are linked relative to the report."""
    parts = [f"# {title}", *preamble]
    for s in sections:
        parts.append(f"## {s.title}")
        parts.extend(s.notes)
        if s.rows:
            parts.append(markdown_table(s.headers, s.rows))
        for fig in s.figures:
            rel = os.path.relpath(fig, path.parent)
            parts.append(f"![{fig.stem}]({rel})")
    atomic_write_bytes(path, ("\n\n".join(parts) + "\n").encode())
    return path
