"""Run names, derived from the config with the anchors' subset grammar (never typed by hand).

Best-of-N: ``{dataset}--T-{T}--top_p-{p}--n-{n}--seed-{s}--agg_strategy-{agg}``; step search
adds ``--m-{beam_width}--iters-{it}--look-{lookahead}``; several temperatures write
``temps_0.4_0.8__r_0.5_0.5`` in place of ``T-0.8``; shards add ``--chunk-{start}_{end}``.
"""

from __future__ import annotations


def run_name(run, approach_options, schedule) -> str:
    dataset = run.dataset.name.replace("/", "_")
    name = (
        f"{dataset}--{schedule.name_part()}--top_p-{run.top_p:g}--n-{run.n}"
        f"--seed-{run.seed}--agg_strategy-{run.agg_strategy}"
    )
    return name + approach_options.name_part()


def chunk_name(start: int, end: int) -> str:
    return f"chunk-{start}_{end}"
