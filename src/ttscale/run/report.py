"""The results table printed at the end of a run."""

from __future__ import annotations

import re


def results_table(
    metrics: dict[str, float],
    *,
    num_problems: int,
    counts: dict[str, int] | None = None,
    one_point: bool = False,
) -> str:
    """A plain-text table: one row per n, columns maj/naive/weighted/filtered/pass, plus totals.

    ``counts`` (:func:`ttscale.metrics.coverage`): a row whose figures stand on fewer than
    all problems says on how many. ``one_point``: a step search's n completions come from one
    search, so subsets of them are not what a smaller search would give: only the full row.
    """
    counts = counts or {}
    ns = sorted({int(m.group(1)) for k in metrics if (m := re.fullmatch(r"\w+@(\d+)", k))})
    if one_point and ns:
        ns = ns[-1:]
    cols = [
        c
        for c in ("maj", "naive", "weighted", "filtered", "pass")
        if any(f"{c}@{n}" in metrics for n in ns)
    ]
    head = f"{'n':>5} " + " ".join(f"{c + '@n':>10}" for c in cols)
    lines = [head, "-" * len(head)]
    for n in ns:
        if not any(f"{c}@{n}" in metrics for c in cols):
            continue
        cells = [
            f"{100 * metrics[f'{c}@{n}']:>9.1f}%" if f"{c}@{n}" in metrics else f"{'':>10}"
            for c in cols
        ]
        behind = {counts[f"{c}@{n}"] for c in cols if f"{c}@{n}" in counts}
        note = f"   (on {min(behind)} of {num_problems} problems)" if behind else ""
        lines.append(f"{n:>5} " + " ".join(cells) + note)
    avgs = [k for k in metrics if k.startswith("avg@")]
    if len(avgs) == 1:
        lines.append(f"{avgs[0]}: {100 * metrics[avgs[0]]:.1f}% (mean accuracy of single samples)")
    if "accuracy" in metrics:
        lines.append(f"accuracy: {100 * metrics['accuracy']:.1f}% (the approach's own answers)")
    if "samples" in metrics and avgs and len(avgs) > 1:  # an adaptive budget: N per problem
        lines.append(f"samples/problem: {metrics['samples']:.1f} (adaptive: N differs by problem)")
    lines.append(
        f"problems: {num_problems}   generated tokens/problem: {metrics.get('tokens', 0):.0f}"
        f"   PRM tokens/problem: {metrics.get('prm_tokens', 0):.0f}"
    )
    return "\n".join(lines)
