"""Run one shard end to end: validate, load, search, grade, write. Nothing else lives here."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ttscale.config import ConfigError, RunConfig, validate
from ttscale.config.preflight import preflight
from ttscale.data import load_rows, row_range, shard_range, to_problems
from ttscale.identity import fingerprint, identity, run_prefix
from ttscale.redact import public_config
from ttscale.run.checkpoint import ShardCheckpoint, exit_on_signals, solve_checkpointed
from ttscale.run.environment import environment
from ttscale.storage import IdentityError, build_store
from ttscale.storage.naming import chunk_name, run_name
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
        where=f"dataset.path={d.path}" if d.source == "file" else f"dataset {d.name}",
    )
    lo, hi = row_range(len(problems), d.start, d.end, d.num_samples)
    start, end = shard_range(hi - lo, run.shard.index, run.shard.count)
    return problems[lo + start : lo + end], lo + start, lo + end


def main(cfg: Any) -> dict[str, Any]:
    """Run the shard that ``cfg`` describes; return its summary (also written beside it)."""
    from ttscale.backends import build_generator, close_generator
    from ttscale.grading import Grader
    from ttscale.metrics import aggregate, coverage
    from ttscale.prm import build_prm
    from ttscale.prompts import chat_messages
    from ttscale.run.report import results_table
    from ttscale.run.threads import set_torch_threads
    from ttscale.run.tracking import Tracker
    from ttscale.scorers import build_scorer
    from ttscale.search import APPROACHES
    from ttscale.search.base import Context

    run = validate(cfg)
    problems, start, end = select_problems(run)
    name = run_name(run)
    ident = identity(run)
    store = build_store(run, ident)  # storage=local (default) or hub
    store.check_writable()
    preflight(run, problems)  # model folders, prompts, PRM tokens: before any weights
    path = store.chunk_path(name, start, end)
    summary: dict[str, Any] = {
        "run": name,
        "chunk": chunk_name(start, end),
        "path": str(path),
        "fingerprint": fingerprint(ident),
        "identity": ident,
    }
    if not problems:
        log.warning("shard %s has no rows; nothing to do", chunk_name(start, end))
        return summary
    if not run.overwrite:
        try:
            done = store.has_chunk(name, start, end)
        except IdentityError as err:  # another run's chunk where ours goes (a shared Hub repo)
            raise ConfigError(
                f"{err}: use another storage, or overwrite=true to replace it"
            ) from None
        if done:
            print(f"{path} already exists and is complete; skipping (overwrite=true to redo)")
            return summary | {"skipped": True}

    # One wandb run per shard, grouped by run name (or tracking.group for a whole sweep).
    tracker = Tracker(
        run.tracking, config=run.model_dump(), name=f"{name}--{chunk_name(start, end)}", group=name
    )
    generator = None
    grader = Grader(num_workers=run.grading.workers, timeout=run.grading.timeout)
    grader.start(background=True)  # math-verify loads while the models load and search runs
    try:
        set_torch_threads(run.threads)  # before any model runs: torch's default oversubscribes
        generator = build_generator(run.model, seed=run.seed, progress=run.progress)
        prm = None
        if run.uses_prm:
            prm = build_prm(run.prm, seed=run.seed)
        system, template = run.model.system_prompt, run.model.chat_template_kwargs
        ctx = Context(
            generator=generator,
            scorer=build_scorer(run.scorer, prm) if run.scorer_name != "none" else None,
            prompt=lambda p: generator.render(chat_messages(p.problem, system), **template),
            n=run.n,
            temperatures=run.temperature_schedule.slots,
            top_p=run.top_p,
            max_tokens=run.max_tokens,
            seed=run.seed,
            agg_strategy=run.agg_strategy,
            schedule=run.temperature_schedule,
        )
        approach = APPROACHES.from_config(run.approach.name, run.approach)
        counts = parameters(run)  # the parameter counts behind the FLOPs columns
        ckpt = _checkpoint(run, run_prefix(run, ident), name, start, end)
        with exit_on_signals():
            rows, per_problem = solve_checkpointed(
                problems,
                start,
                lambda batch: _solve(approach, batch, ctx, grader, run, counts),
                ckpt,
                run.checkpoint_every,
            )
        metrics = aggregate(per_problem, missing="partial")
        counts = coverage(per_problem)  # figures not on every problem
        search_s = sum(r["search_seconds"] for r in rows)
        summary |= {
            "start": start,
            "end": end,
            "num_problems": len(rows),
            "search_seconds": round(search_s, 3),
            "metrics": metrics,
            "metric_problems": counts,
            "config": public_config(run),
            # config says "auto"; this says what ran, and the parameter counts behind FLOPs
            "environment": environment(generator, prm)
            | dict(zip(("policy_parameters", "prm_parameters"), counts)),
        }
        store.write_chunk(name, start, end, rows, summary)
        if ckpt is not None:
            ckpt.clear()  # the chunk now holds every row
        tracker.log_summary(metrics, rows)
    finally:
        close_generator(generator)  # a server the backend started stops, error or not
        grader.close()
        tracker.finish()
    one_point = run.approach.step_search  # beam search, DVTS, backtracking: one n
    print(results_table(metrics, num_problems=len(rows), counts=counts,
                        one_point=one_point))  # fmt: skip
    print(f"results: {path}")
    return summary


def _checkpoint(
    run: RunConfig, prefix: str, name: str, start: int, end: int
) -> ShardCheckpoint | None:
    """This shard's checkpoint folder (None unless checkpoint_every is set)."""
    if run.checkpoint_every is None:
        return None
    folder = Path(run.storage.results_dir, ".checkpoints", prefix)
    ckpt = ShardCheckpoint(folder / name / chunk_name(start, end), start, end)
    if run.overwrite:
        ckpt.clear()
    return ckpt


def parameters(run: RunConfig) -> tuple[int | None, int | None]:
    """The policy's and the PRM's parameter counts (0 for no PRM or the oracle)."""
    from ttscale.compute import count_parameters

    prm = count_parameters(run.prm.path) if run.uses_prm and run.prm.name != "oracle" else 0
    return count_parameters(run.model.path), prm


def _solve(
    approach: Any,
    problems: list[Problem],
    ctx: Any,
    grader: Any,
    run: RunConfig,
    counts: tuple[int | None, int | None],
):
    """Search and grade one batch of problems: (rows, per-problem metrics)."""
    from ttscale.run.evaluate import evaluate

    t0 = time.perf_counter()
    results = approach.search(problems, ctx)
    search_s = time.perf_counter() - t0
    rows, _, per_problem = evaluate(
        problems,
        results,
        agg_strategy=run.agg_strategy,
        seed=run.seed,
        grader=grader,
        subset_mode=run.metrics.subset_mode,
        draws=run.metrics.draws,
        keep=run.vote_keep,
        pick=run.approach.pick,
        parameters=counts,
    )
    for row in rows:
        row["search_seconds"] = search_s / len(rows)
    return rows, per_problem
