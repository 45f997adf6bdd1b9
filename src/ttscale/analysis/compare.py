"""The analysis types: each turns seed groups into report sections (a table and PNG plots)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ttscale.analysis.plots import Series, heatmap, line_plot, slug
from ttscale.analysis.stats import GroupMetrics, level_of_rate
from ttscale.search import whole_solution

__all__ = ["ANALYSES", "Section", "headline"]


@dataclass
class Section:
    """A part of the report: a title, notes, one key table and its figures."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    figures: list[Path | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.figures = [f for f in self.figures if f is not None]  # None: plots were off


def headline(g: GroupMetrics) -> str:
    """The selection method a group is judged by: PRM-weighted vote if scored, else majority."""
    scored = f"weighted@{g.first.n}" in g.mean or "weighted@all" in g.mean
    return "weighted" if scored else "maj"


def sizes(g: GroupMetrics) -> list[int]:
    """Subset sizes n present for the group, increasing."""
    return sorted({int(m.group(1)) for k in g.mean if (m := re.fullmatch(r"maj@(\d+)", k))})


def pct(g: GroupMetrics, key: str) -> str:
    """``mean`` (or ``mean ± std`` over seeds) in percent; blank when missing."""
    if key not in g.mean:
        return ""
    text = f"{100 * g.mean[key]:.1f}"
    return text + (f" ± {100 * g.std[key]:.1f}" if len(g.runs) > 1 else "")


def curve(g: GroupMetrics, method: str, label: str | None = None) -> Series:
    """``method@n`` against n, with the std across seeds."""
    ns = [n for n in sizes(g) if f"{method}@{n}" in g.mean]
    return Series(
        label or f"{g.label} ({method})",
        ns,
        [g.mean[f"{method}@{n}"] for n in ns],
        [g.std[f"{method}@{n}"] for n in ns],
    )


def _by(groups: Sequence[GroupMetrics], key: Callable[[GroupMetrics], object]) -> dict:
    out: dict = {}
    for g in groups:
        out.setdefault(key(g), []).append(g)
    return out


def _path(out: Path | None, name: str) -> Path | None:
    """Where a figure goes; None (no plot) when plots are off."""
    return None if out is None else out / name


def _n(g: GroupMetrics) -> int:
    return g.first.n


def _full(g: GroupMetrics, method: str) -> str:
    """The key of ``method`` over every problem's full set: ``@N``, or ``@all`` when the
    problems of a run end with different numbers of completions (backtracking, early exit)."""
    key = f"{method}@{_n(g)}"
    return key if key in g.mean else f"{method}@all"


# -- summary ---------------------------------------------------------------------------------


def _gpass(g: GroupMetrics, n: int) -> str:
    key = f"g-pass@{n}_1"
    if key not in g.mean:
        return ""
    lo, hi = g.ci(key)
    return f"{pct(g, key)} [{100 * lo:.1f}, {100 * hi:.1f}]"


def summary(groups: Sequence[GroupMetrics], out: Path | None, **_: object) -> list[Section]:
    """Every run group at its full N, accuracy vs n per model, and accuracy per dataset level."""
    rows, figures = [], []
    for g in groups:
        N, method = _n(g), headline(g)
        lo, hi = g.ci(_full(g, method))
        rows.append(
            [g.model, g.approach, g.first.run.name.temperature_label, str(N), str(len(g.runs)),
             str(g.first.problems), pct(g, _full(g, "maj")), pct(g, _full(g, "weighted")),
             pct(g, _full(g, "naive")), pct(g, _full(g, "filtered")), pct(g, _full(g, "pass")),
             pct(g, f"avg@{N}"),
             f"{method}: [{100 * lo:.1f}, {100 * hi:.1f}]", _gpass(g, N),
             f"{g.mean.get('tokens', math.nan):.0f}", f"{g.mean.get('prm_tokens', math.nan):.0f}",
             f"{_cost(g, 'flops'):.3g}"]
        )  # fmt: skip
    for model, gs in _by(groups, lambda g: g.model).items():
        series = [curve(g, headline(g)) for g in gs]
        figures.append(
            line_plot(_path(out, f"summary_{slug(model)}.png"), series, title=f"{model}: accuracy vs n",
                      xlabel="n (completions per problem)")
        )  # fmt: skip
        levelled = [g for g in gs if g.first.by_level]
        if levelled:
            series = []
            for g in levelled:
                levels = sorted(g.first.by_level)
                key = f"{headline(g)}@{_n(g)}"
                ys = [g.level_mean(lv, key) for lv in levels]
                series.append(Series(f"{g.label} ({key})", levels, ys))
            figures.append(
                line_plot(_path(out, f"summary_levels_{slug(model)}.png"), series,
                          title=f"{model}: accuracy at full n by dataset level",
                          xlabel="difficulty level (dataset)", log2x=False)
            )  # fmt: skip
    headers = ["model", "approach", "temperature", "N", "seeds", "problems", "maj@N",
               "weighted@N", "naive@N", "filtered@N", "pass@N", "avg@N", "95% CI",
               "G-Pass@N (tau=1) [CI]",
               "tokens/problem", "PRM tokens/problem", "FLOPs/problem"]  # fmt: skip
    notes = ["Accuracy in %, mean ± std across seeds; CI: bootstrap over problems (seed-averaged). "
             "filtered@N: DeepConf's vote of the top scorer.keep share, for confidence scorers. "
             "G-Pass@N with tau=1: the chance that all of N samples are right (stability; "
             "ttscale.metrics.g_pass_at_k; other taus and mG-Pass are in the per-problem "
             "metrics)."]  # fmt: skip
    return [Section("Summary", headers, rows, figures, notes)]


# -- approach comparison -----------------------------------------------------------------------


def _cost(g: GroupMetrics, unit: str) -> float:
    """Generated tokens or FLOPs per problem (NaN when the rows do not say)."""
    return g.mean.get("tokens" if unit == "tokens" else "flops", math.nan)


def _compute_points(gs: Sequence[GroupMetrics], unit: str = "tokens") -> Series:
    """Accuracy vs cost per problem (generated tokens, or FLOPs) for one approach.

    Sampling approaches draw independent completions, so a subset of n out of N costs n/N of
    the tokens: their curve runs over n (for FLOPs the shared prompt's prefill is scaled too,
    a small overstatement at small n). A step search's final beams are not a cheaper search,
    so each of its runs is one point at its full cost.
    """
    g0 = gs[0]
    method = headline(g0)
    if whole_solution(g0.approach) and len(gs) == 1:
        N, ns = _n(g0), [n for n in sizes(g0) if f"{method}@{n}" in g0.mean]
        x = [_cost(g0, unit) * n / N for n in ns]
        y = [g0.mean[f"{method}@{n}"] for n in ns]
        err = [g0.std[f"{method}@{n}"] for n in ns]
    else:
        # runs whose problems have different N (early exit) have no method@N: left out
        gs = sorted((g for g in gs if _full(g, method) in g.mean), key=lambda g: _cost(g, unit))
        x = [_cost(g, unit) for g in gs]
        y = [g.mean[_full(g, method)] for g in gs]
        err = [g.std[_full(g, method)] for g in gs]
    return Series(f"{g0.approach} {g0.first.run.name.temperature_label} ({method})", x, y, err)


def at_equal_cost(series: Series, budget: float) -> float:
    """Accuracy of a curve at ``budget``, linear in log2 cost between its points; NaN
    outside its range (no extrapolation)."""
    pts = sorted((x, y) for x, y in zip(series.x, series.y) if math.isfinite(x) and x > 0)
    if not pts or not pts[0][0] <= budget <= pts[-1][0]:
        return math.nan
    xs = [math.log2(x) for x, _ in pts]
    return float(np.interp(math.log2(budget), xs, [y for _, y in pts]))


def approach_comparison(
    groups: Sequence[GroupMetrics], out: Path | None, **_: object
) -> list[Section]:
    """Accuracy against generated tokens and FLOPs per problem: approaches at equal compute."""
    rows, figures, equal = [], [], []
    for model, gs in _by(groups, lambda g: g.model).items():
        lines = _by(gs, lambda g: (g.approach, g.first.run.name.temperature_label))
        for unit, label in (("tokens", "generated tokens"), ("flops", "FLOPs")):
            series = [_compute_points(v, unit) for v in lines.values()]
            if unit == "flops" and not any(math.isfinite(x) for s_ in series for x in s_.x):
                continue  # rows written before FLOPs were counted
            figures.append(
                line_plot(_path(out, f"approaches_{unit}_{slug(model)}.png"), series,
                          title=f"{model}: accuracy at equal compute",
                          xlabel=f"{label} per problem (log2)")
            )  # fmt: skip
            if unit == "flops":
                equal.append((model, series))
        for g in gs:
            key = _full(g, headline(g))
            rows.append([model, g.approach, g.first.run.name.temperature_label, str(_n(g)),
                         f"{_cost(g, 'tokens'):.0f}", f"{_cost(g, 'flops'):.3g}", key, pct(g, key),
                         pct(g, _full(g, "pass"))])  # fmt: skip
    headers = ["model", "approach", "temperature", "N", "tokens/problem", "FLOPs/problem",
               "metric", "accuracy", "pass@N"]  # fmt: skip
    notes = ["Best-of-N / majority curves run over n (a subset of n costs n/N of the tokens); "
             "step searches are one point per run at their full cost. FLOPs = 2 x parameters x "
             "computed tokens, policy and PRM (ttscale.compute)."]  # fmt: skip
    sections = [Section("Approach comparison (equal compute)", headers, rows, figures, notes)]
    for model, series in equal:
        sections.append(_equal_flops(model, series))
    return sections


def _equal_flops(model: str, series: Sequence[Series]) -> Section:
    """Every approach's accuracy at every FLOPs budget that some run of the model spent."""
    rows = []
    for b in sorted({x for s_ in series for x in s_.x if math.isfinite(x)}):
        cells = [at_equal_cost(s_, b) for s_ in series]
        rows.append([f"{b:.3g}", *(f"{100 * c:.1f}" if math.isfinite(c) else "" for c in cells)])
    notes = ["Accuracy (%) interpolated linearly in log2 FLOPs between each approach's own "
             "points; blank outside its range (no extrapolation)."]  # fmt: skip
    heads = ["FLOPs/problem", *(s_.label for s_ in series)]
    return Section(f"{model}: approaches at equal FLOPs", heads, rows, [], notes)


# -- temperature comparison --------------------------------------------------------------------


def temperature_comparison(
    groups: Sequence[GroupMetrics], out: Path | None, **_: object
) -> list[Section]:
    """Temperature settings side by side, per (model, approach, N), plus within-run temperatures."""
    rows, figures = [], []
    sets = _by(groups, lambda g: (g.model, g.approach, _n(g), g.first.run.name.agg_strategy))
    for (model, approach, N, _agg), gs in sets.items():
        name = f"{model}_{approach}_n{N}"
        for method, what in (("maj", "majority vote"), ("pass", "pass@k")):
            series = [curve(g, method, g.first.run.name.temperature_label) for g in gs]
            figures.append(
                line_plot(_path(out, f"temperatures_{method}_{slug(name)}.png"), series,
                          title=f"{model} / {approach}: {what} by temperature",
                          xlabel="n (completions per problem)")
            )  # fmt: skip
        for g in gs:
            rows.append([model, approach, g.first.run.name.temperature_label, "all", str(N),
                         pct(g, f"avg@{N}"), pct(g, f"maj@{N}"), pct(g, f"pass@{N}")])  # fmt: skip
            for t, m in g.by_temperature().items():  # each temperature's own samples
                k = max(int(x[4:]) for x in m if x.startswith("maj@"))
                rows.append([model, approach, g.first.run.name.temperature_label, f"T={t:g} only",
                             f"{m['samples']:.0f}", f"{100 * m['avg']:.1f}",
                             f"{100 * m[f'maj@{k}']:.1f} (@{k})", f"{100 * m[f'pass@{k}']:.1f} (@{k})"])  # fmt: skip
    headers = ["model", "approach", "temperature", "samples", "N", "avg@N", "maj@N", "pass@N"]
    pooled = [
        [g.model, g.approach, g.first.run.name.temperature_label, str(r["k"]),
         f"{100 * r['pooled']:.1f}", f"{100 * r['best_single']:.1f} (T={r['best_temperature']:g})"]
        for g in groups for r in g.first.pooled
    ]  # fmt: skip
    sections = [Section("Temperature comparison", headers, rows, figures)]
    if pooled:
        heads = ["model", "approach", "temperature", "k", "pooled pass@k", "best single pass@k"]
        sections.append(Section("Pooled temperatures vs the best single one", heads, pooled, []))
    exits = [_early_exit_row(g) for g in groups if all(m.early_exit for m in g.runs)]
    if exits:
        heads = ["model", "approach", "temperature", "accuracy", "exit rate", "mean exit round",
                 "samples used / budget", "tokens/problem", "at full budget", "tokens saved"]  # fmt: skip
        notes = ["Two-stage voting with early exit: the full budget's tokens are estimated from "
                 "the tokens per sample of the problems that exited (means over seeds)."]  # fmt: skip
        sections.append(Section("Early exit against the full budget", heads, exits, [], notes))
    return sections


def _early_exit_row(g: GroupMetrics) -> list[str]:
    def mean(key: str) -> float:
        return sum(m.early_exit[key] for m in g.runs) / len(g.runs)

    return [g.model, g.approach, g.first.run.name.temperature_label,
            f"{100 * mean('accuracy'):.1f}", f"{100 * mean('exit_rate'):.1f}%",
            f"{mean('mean_exit_round'):.2f}",
            f"{mean('samples_used'):.1f} / {mean('budget_samples'):.0f}",
            f"{mean('tokens_used'):.0f}", f"{mean('tokens_full_budget'):.0f}",
            f"{100 * mean('tokens_saved'):.1f}%"]  # fmt: skip


# -- difficulty x temperature ------------------------------------------------------------------


def _baseline_levels(groups: Sequence[GroupMetrics], model: str, temperature: float):
    """Level per problem key from the baseline run's solve rate (mean over its seeds)."""
    base = [g for g in groups if g.model == model and g.first.run.name.schedule == "single"
            and math.isclose(g.first.run.name.temperatures[0], temperature)]  # fmt: skip
    if not base:
        return None
    rates: dict[str, list[float]] = {}
    for g in base:
        for m in g.runs:
            for key, rate in m.solve_rate.items():
                rates.setdefault(key, []).append(rate)
    return {k: level_of_rate(sum(v) / len(v)) for k, v in rates.items()}


def difficulty_temperature(
    groups: Sequence[GroupMetrics],
    out: Path | None,
    *,
    levels: str = "auto",
    baseline_temperature: float = 0.8,
    **_: object,
) -> list[Section]:
    """Accuracy per difficulty level and temperature setting (heatmap per model/approach)."""
    sections = []
    for (model, approach), gs in _by(groups, lambda g: (g.model, g.approach)).items():
        source = levels
        if source == "auto":
            source = "dataset" if all(g.first.by_level for g in gs) else "baseline"
        level_of = None
        if source == "baseline":
            level_of = _baseline_levels(groups, model, baseline_temperature)
            if level_of is None:
                sections.append(Section(f"Difficulty x temperature: {model} / {approach}", [], [],
                    notes=[f"no single-temperature run at T={baseline_temperature:g} for "
                           f"{model} (--baseline-temperature); no levels"]))  # fmt: skip
                continue
        gs = sorted(gs, key=lambda g: g.first.run.name.temperatures)
        cols = [g.first.run.name.temperature_label + f" n={_n(g)}" for g in gs]
        table = {g.name: g.by_levels(level_of) for g in gs}
        all_levels = sorted({lv for t in table.values() for lv in t})
        if not all_levels:
            sections.append(Section(f"Difficulty x temperature: {model} / {approach}", [], [],
                                    notes=["the runs have no dataset levels; use --levels "
                                           "baseline"]))  # fmt: skip
            continue
        values = []
        for lv in all_levels:
            values.append([table[g.name].get(lv, {}).get(f"maj@{_n(g)}", math.nan) for g in gs])
        title = f"{model} / {approach}: maj@N by level ({source} levels)"
        fig = heatmap(_path(out, f"difficulty_{slug(model + '_' + approach)}.png"), values,
                      rows=[f"L{lv}" for lv in all_levels], cols=cols, title=title,
                      xlabel="temperature setting", ylabel="difficulty level")  # fmt: skip
        rows = [[f"L{lv}"] + [f"{100 * v:.1f}" if math.isfinite(v) else "" for v in vals]
                for lv, vals in zip(all_levels, values)]  # fmt: skip
        notes = ["Levels from the dataset." if source == "dataset" else
                 f"Levels from the solve rate at T={baseline_temperature:g}: L1 [0.8, 1], "
                 "L2 [0.6, 0.8), L3 [0.4, 0.6), L4 [0.2, 0.4), L5 [0, 0.2)."]  # fmt: skip
        sections.append(Section(f"Difficulty x temperature: {model} / {approach}",
                                ["level", *cols], rows, [fig], notes))  # fmt: skip
    return sections


# -- model comparison ------------------------------------------------------------------------


def model_comparison(
    groups: Sequence[GroupMetrics], out: Path | None, **_: object
) -> list[Section]:
    """The same approach and temperature across models: accuracy vs n."""
    rows, figures = [], []
    sets = _by(groups, lambda g: (g.approach, g.first.run.name.temperature_label))
    for (approach, temps), gs in sets.items():
        series = [curve(g, headline(g), f"{g.model} n={_n(g)} ({headline(g)})") for g in gs]
        figures.append(
            line_plot(_path(out, f"models_{slug(approach + '_' + temps)}.png"), series,
                      title=f"{approach}, {temps}: models", xlabel="n (completions per problem)")
        )  # fmt: skip
        for g in gs:
            N = _n(g)
            rows.append([approach, temps, g.model, str(N), pct(g, f"{headline(g)}@{N}"),
                         pct(g, f"pass@{N}"), pct(g, f"avg@{N}"), f"{_cost(g, 'tokens'):.0f}"])  # fmt: skip
    headers = ["approach", "temperature", "model", "N", "accuracy (weighted or maj)", "pass@N",
               "avg@N", "tokens/problem"]  # fmt: skip
    return [Section("Model comparison", headers, rows, figures)]


ANALYSES: dict[str, Callable[..., list[Section]]] = {
    "summary": summary,
    "approach_comparison": approach_comparison,
    "temperature_comparison": temperature_comparison,
    "difficulty_temperature": difficulty_temperature,
    "model_comparison": model_comparison,
}
