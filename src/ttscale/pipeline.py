"""Run one shard end to end: validate, load, search, grade, write. Nothing else lives here."""

from __future__ import annotations

import logging
import time
from typing import Any

from ttscale.config import RunConfig, validate
from ttscale.data import load_rows, shard_range, to_problems
from ttscale.naming import chunk_name, run_name
from ttscale.store import LocalStore
from ttscale.types import Problem

log = logging.getLogger("ttscale")


def select_problems(run: RunConfig) -> tuple[list[Problem], int, int]:
    """Load and validate the dataset, then cut this shard's rows [start, end)."""
    d = run.dataset
    rows = load_rows(d.source, d.path, d.split, d.name)
    problems = to_problems(
        rows,
        problem_key=d.problem_key,
        answer_key=d.answer_key,
        id_key=d.id_key,
        where=f"dataset {d.name}",
    )
    lo = d.start or 0
    hi = d.end if d.end is not None else len(problems)
    if d.num_samples is not None:
        hi = min(hi, lo + d.num_samples)
    if hi > len(problems) or lo >= len(problems):
        raise ValueError(
            f"dataset.start/end: rows [{lo}, {hi}) are outside the dataset's {len(problems)} rows"
        )
    start, end = shard_range(hi - lo, run.shard.index, run.shard.count)
    return problems[lo + start : lo + end], lo + start, lo + end


def main(cfg: Any) -> dict[str, Any]:
    """Run the shard that ``cfg`` describes; return its summary (also written beside it)."""
    from ttscale.backends import build_generator
    from ttscale.evaluate import evaluate
    from ttscale.grading import Grader
    from ttscale.prm import build_prm
    from ttscale.prompts import build_prompt
    from ttscale.report import results_table
    from ttscale.search import APPROACHES
    from ttscale.search.base import Context
    from ttscale.tracking import Tracker

    run, options, schedule = validate(cfg)
    problems, start, end = select_problems(run)
    name = run_name(run, options, schedule)
    store = LocalStore(run.storage.results_dir, f"{run.model.name}/{run.approach.name}")
    store.check_writable()
    path = store.chunk_path(name, start, end)
    summary: dict[str, Any] = {"run": name, "chunk": chunk_name(start, end), "path": str(path)}
    if not problems:
        log.warning("shard %s has no rows; nothing to do", chunk_name(start, end))
        return summary
    if store.has_chunk(name, start, end) and not run.overwrite:
        print(f"{path} already exists and is complete; skipping (overwrite=true to redo)")
        return summary | {"skipped": True}

    tracker = Tracker(run.tracking, config=run.model_dump(), name=name)
    try:
        generator = build_generator(run.model, seed=run.seed, progress=run.progress)
        prm = None
        if options.needs_prm and run.prm.name != "none":
            prm = build_prm(run.prm.name, **_prm_kwargs(run))
        tokenizer = getattr(generator, "tokenizer", None)
        ctx = Context(
            generator=generator,
            prm=prm,
            prompt=lambda p: build_prompt(tokenizer, p.problem, run.model.system_prompt),
            n=run.n,
            temperatures=schedule.slots,
            top_p=run.top_p,
            max_tokens=run.max_tokens,
            seed=run.seed,
            agg_strategy=run.agg_strategy,
        )
        approach = APPROACHES.get(run.approach.name)(options)
        t0 = time.perf_counter()
        results = approach.search(problems, ctx)
        search_s = time.perf_counter() - t0
        with Grader(num_workers=run.grading.workers, timeout=run.grading.timeout) as grader:
            rows, metrics, _ = evaluate(
                problems,
                results,
                agg_strategy=run.agg_strategy,
                seed=run.seed,
                grader=grader,
                subset_mode=run.metrics.subset_mode,
                draws=run.metrics.draws,
            )
        for row in rows:
            row["search_seconds"] = search_s / len(rows)
        summary |= {
            "start": start,
            "end": end,
            "num_problems": len(rows),
            "search_seconds": round(search_s, 3),
            "metrics": metrics,
            "config": _public(run),
        }
        store.write_chunk(name, start, end, rows, summary)
        tracker.log_summary(metrics)
    finally:
        tracker.finish()
    print(results_table(metrics, num_problems=len(rows)))
    print(f"results: {path}")
    return summary


def _prm_kwargs(run: RunConfig) -> dict[str, Any]:
    p = run.prm
    if p.name == "oracle":
        return {"noise": p.noise, "seed": run.seed}
    return {
        "model_path": p.path,
        "batch_size": p.batch_size,
        "step_tag": p.step_tag,
        "good_token": p.good_token,
        "bad_token": p.bad_token,
        "device": p.device,
        "dtype": p.dtype,
    }


def _public(run: RunConfig) -> dict[str, Any]:
    """The config as written beside results: secrets replaced."""
    data = run.model_dump()
    if data["model"].get("api_key"):
        data["model"]["api_key"] = "***"
    return data
