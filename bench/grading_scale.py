"""Grading + analysis at scale: ttscale's way vs one math-verify call per completion.

Builds a synthetic results set in search-and-learn's column layout (default 500 problems x
256 completions x 3 seeds) with a realistic answer distribution: each problem has a
MATH-style gold answer, correct completions write it in several equivalent forms
(``\\frac{1}{2}``, ``\\dfrac{1}{2}``, ``0.5``, ``1/2``), wrong ones come from a small
per-problem pool (Zipf-like, shared by the seeds), a few have no boxed answer, and about 1 in
1000 is pathological LaTeX (a power tower, 300-deep nested fractions, a giant factorial).

* **ours**: ``ttscale.analysis`` on the three runs: answers extracted, (gold, answer) pairs
  deduplicated across the whole set, graded in a 2-process pool with a per-item timeout,
  clustered, then every metric (maj/weighted/naive@n, pass@k, per level, bootstrap CI).
  Timed cold (empty verdict cache) and warm (the cache file from the cold run).
* **naive**: one ``verify(parse(gold), parse(answer))`` per completion, in one process. It is
  timed on a uniform random sample of the completions (``--naive-sample``) and scaled up:
  its cost is a sum of independent per-completion costs, so the scaling is linear.

The verdicts of the sampled completions must be identical both ways; the script checks it.

    python bench/grading_scale.py                      # 500 x 256 x 3, naive on 2% of it
    python bench/grading_scale.py --problems 50 --completions 64 --seeds 1 --naive-sample 1
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

PATHOLOGICAL = (
    "2^{2^{2^{2^{2^{2^{2^{2}}}}}}}",
    "\\frac{1}{" * 300 + "2" + "}" * 300,
    "1000000!",
    "9^{9^{9^{9}}}",
)


def _golds(rng: random.Random) -> list[tuple[str, list[str], list[str]]]:
    """(gold, equivalent forms, wrong pool) generators in MATH-500's styles."""
    a, b = rng.randint(1, 9), rng.randint(2, 12)
    n = rng.randint(2, 999)
    r = rng.choice([2, 3, 5, 6, 7])
    wrong_ints = [str(n + d) for d in (-2, -1, 1, 2, 10, -10)] + [str(2 * n), str(n // 2)]
    return [
        (str(n), [str(n), f"{n}.0", f"{n}"], wrong_ints),
        (f"\\frac{{{a}}}{{{b}}}", [f"\\frac{{{a}}}{{{b}}}", f"\\dfrac{{{a}}}{{{b}}}",
         f"{a}/{b}", f"{a / b:.10g}" if (b % 2 == 0 or b % 5 == 0) else f"\\tfrac{{{a}}}{{{b}}}"],
         [f"\\frac{{{a + 1}}}{{{b}}}", f"\\frac{{{a}}}{{{b + 1}}}", f"\\frac{{{b}}}{{{a}}}",
          str(a), str(b), f"\\frac{{{a}}}{{{2 * b}}}"]),
        (f"{a}\\sqrt{{{r}}}", [f"{a}\\sqrt{{{r}}}", f"{a} \\sqrt {r}", f"\\sqrt{{{a * a * r}}}"],
         [f"{a + 1}\\sqrt{{{r}}}", f"\\sqrt{{{r}}}", f"{a}\\sqrt{{{r + 1}}}", str(a * r)]),
        (f"\\left( {a}, {b} \\right]", [f"({a},{b}]", f"\\left({a}, {b}\\right]"],
         [f"[{a},{b}]", f"({a},{b})", f"({b},{a}]"]),
        (f"{a}\\pi", [f"{a}\\pi", f"{a} \\pi", f"\\pi \\cdot {a}"],
         [f"{a + 1}\\pi", f"{a}", f"\\frac{{{a}\\pi}}{{2}}", f"{2 * a}\\pi"]),
    ]  # fmt: skip


def _problem(i: int) -> tuple[str, int, list[str], list[str], float]:
    rng = random.Random(i)
    gold, good, bad = rng.choice(_golds(rng))
    level = i % 5 + 1
    p_correct = max(0.05, 0.9 - 0.2 * (level - 1) + rng.uniform(-0.1, 0.1))
    return gold, level, good, bad, p_correct


def _completion(rng: random.Random, good: list[str], bad: list[str], p: float) -> str:
    u = rng.random()
    if u < 0.001:
        answer = rng.choice(PATHOLOGICAL)
    elif u < 0.03:
        return "## Step 1: I could not finish this one.\n\nThe computation is too long."
    elif rng.random() < p:
        answer = rng.choice(good)
    else:  # a few wrong answers dominate, as a model's repeated mistakes do
        answer = bad[min(int(rng.expovariate(0.8)), len(bad) - 1)]
    return f"## Step 1: Work it out.\n\nTherefore, the final answer is: $\\boxed{{{answer}}}$."


def build(root: Path, problems: int, completions: int, seeds: int) -> list[Path]:
    """Write one search-and-learn-layout parquet file per seed; returns the files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for seed in range(seeds):
        rng = random.Random(1000 + seed)
        rows = []
        for i in range(problems):
            gold, level, good, bad, p = _problem(i)
            texts = [_completion(rng, good, bad, p) for _ in range(completions)]
            scores = [[rng.random(), rng.random()] for _ in texts]
            rows.append({"problem": f"Problem {i}", "answer": gold, "level": level,
                         "unique_id": f"p{i}", "completions": texts, "scores": scores,
                         "completion_tokens": [len(t) // 4 for t in texts]})  # fmt: skip
        name = f"synthetic--T-0.8--top_p-1.0--n-{completions}--seed-{seed}--agg_strategy-last"
        path = root / "unknown" / "best_of_n" / name / "merged.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)
        files.append(path)
    return files


def ours(root: Path, cache: Path, workers: int, timeout: float) -> tuple[float, dict, list]:
    """Analyse every run the ttscale way; returns (seconds, grader stats, run metrics)."""
    from ttscale.analysis import discover_local, load_run, run_metrics
    from ttscale.grading import Grader

    t0 = time.perf_counter()
    with Grader(num_workers=workers, timeout=timeout, cache_path=cache) as grader:
        metrics = [run_metrics(r, load_run(r, grader)) for r in discover_local(root)]
        stats = grader.stats.as_dict()
    return time.perf_counter() - t0, stats, metrics


def naive(pairs: list[tuple[str, str | None]]) -> tuple[float, list[bool]]:
    """One parse+parse+verify per completion, in this process (math-verify's own timeouts)."""
    from math_verify import parse, verify

    from ttscale.grading.answers import _to_parse_input

    t0 = time.perf_counter()
    out = []
    for gold, answer in pairs:
        try:
            ok = answer is not None and bool(
                verify(parse(_to_parse_input(gold)), parse(_to_parse_input(answer)))
            )
        except Exception:
            ok = False
        out.append(ok)
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--problems", type=int, default=500)
    p.add_argument("--completions", type=int, default=256)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--naive-sample", type=float, default=0.02,
                   help="fraction of completions the naive way is timed on (1 = all)")  # fmt: skip
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=5.0, help="per-item grading timeout (s)")
    args = p.parse_args(argv)

    from ttscale.grading import Grader, extract_answer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "results"
        t0 = time.perf_counter()
        files = build(root, args.problems, args.completions, args.seeds)
        total = args.problems * args.completions * args.seeds
        print(f"built {total:,} completions in {time.perf_counter() - t0:.1f} s", flush=True)
        cache = Path(tmp) / "verdicts.json"
        cold, stats, metrics = ours(root, cache, args.workers, args.timeout)
        print(f"ours, cold cache: {cold:.1f} s  grader {stats}", flush=True)
        warm, _, _ = ours(root, cache, args.workers, args.timeout)
        print(f"ours, warm cache: {warm:.1f} s", flush=True)

        import pyarrow.parquet as pq

        rng = random.Random(0)
        pairs = []
        for f in files:
            for row in pq.read_table(f, columns=["answer", "completions"]).to_pylist():
                for text in row["completions"]:
                    if rng.random() < args.naive_sample:
                        pairs.append((row["answer"], extract_answer(text)))
        naive_s, naive_verdicts = naive(pairs)
        with Grader(num_workers=args.workers, timeout=args.timeout, cache_path=cache) as g:
            ours_verdicts = g.grade([a for a, _ in pairs], [b for _, b in pairs])
            assert g.stats.mv_calls == 0, "every sampled pair should come from the cache"
    same = sum(a == b for a, b in zip(naive_verdicts, ours_verdicts))
    scaled = naive_s * total / max(len(pairs), 1)
    m = metrics[0].overall
    print(
        f"naive: {naive_s:.1f} s on {len(pairs):,} completions -> {scaled:.0f} s for all {total:,}"
    )
    print(f"identical verdicts on the sample: {same}/{len(pairs)}")
    print(f"speed-up, cold cache: {scaled / cold:.1f}x   warm cache: {scaled / warm:.1f}x")
    print(f"seed 0: maj@{args.completions} {100 * m[f'maj@{args.completions}']:.1f}%  "
          f"weighted@{args.completions} {100 * m[f'weighted@{args.completions}']:.1f}%  "
          f"pass@1 {100 * m['pass@1']:.1f}%")  # fmt: skip
    return 0 if same == len(pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
