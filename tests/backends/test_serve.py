"""A real ``transformers serve`` behind the OpenAI backend, and the server helper's cleanup.

The helper tests use a stand-in server (``python -m http.server``) and take a second; the
``serve`` tests start the real ``transformers serve --device cpu`` on the committed toy
policy and run the pipeline through ``model.backend=openai``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ttscale.backends.serve import ServerStartError, TransformersServer
from ttscale.run.pipeline import main
from ttscale.types import SamplingParams


def gone(pid: int) -> bool:
    """No such process, or only its zombie (dead, not yet reaped by its parent or init)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.is_file() and stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")


def stand_in(folder: Path) -> list[str]:
    """A server that answers GET /health with 200: a static file server over ``folder``."""
    (folder / "health").write_text("ok")
    return [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1", "-d", str(folder)]


def test_helper_starts_a_server_and_always_stops_it(tmp_path):
    server = TransformersServer("unused", command=stand_in(tmp_path))
    with pytest.raises(KeyError), server:
        pid, workdir = server.proc.pid, server.workdir
        with urllib.request.urlopen(server.base_url + "/health", timeout=5) as r:
            assert r.status == 200
        assert workdir.is_dir() and not gone(pid)
        raise KeyError("an error inside the run")
    assert gone(pid) and not workdir.exists() and server.proc is None
    server.stop()  # idempotent


def spy_on_start(server: TransformersServer) -> list[tuple[int, Path]]:
    """Records the (pid, workdir) of the process the server starts, before it is healthy."""
    seen: list[tuple[int, Path]] = []
    wait = server._wait_healthy

    def spy() -> None:
        seen.append((server.proc.pid, server.workdir))
        wait()

    server._wait_healthy = spy
    return seen


def test_a_server_that_dies_at_startup_is_reported_with_its_log():
    cmd = [sys.executable, "-c", "print('no such model: boom'); raise SystemExit(3)"]
    server = TransformersServer("m", command=cmd)
    seen = spy_on_start(server)
    with pytest.raises(ServerStartError, match="(?s)exited with 3.*no such model: boom"):
        server.start()
    assert server.proc is None and not seen[0][1].exists()


def test_a_server_that_never_gets_healthy_is_killed():
    cmd = [sys.executable, "-c", "import time; time.sleep(120)"]
    server = TransformersServer("m", command=cmd, startup_timeout=1)
    seen = spy_on_start(server)
    with pytest.raises(ServerStartError, match="not healthy after 1 s"):
        server.start()
    pid, workdir = seen[0]
    assert gone(pid) and not workdir.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_dies_with_a_run_killed_by_sigkill(tmp_path):
    """SIGKILL runs no cleanup in the run; the kernel still takes the server down with it."""
    import signal
    import subprocess
    import time

    script = (
        "import sys, time\n"
        "from ttscale.backends.serve import TransformersServer\n"
        f"s = TransformersServer('m', command={stand_in(tmp_path)!r})\n"
        "s.start()\n"
        "print(s.proc.pid, s.workdir, flush=True)\n"
        "time.sleep(120)\n"
    )
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid, workdir = run.stdout.readline().split()
        server_pid = int(pid)
        assert not gone(server_pid)
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 30  # a bounded wait for the kernel's signal, not a timing
        while not gone(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(server_pid)
    finally:
        run.kill()
        run.wait()
        shutil.rmtree(workdir, ignore_errors=True)  # what SIGKILL leaves: the log folder


# --- the real transformers serve ----------------------------------------------------------


@pytest.fixture(scope="module")
def toy_server(policy_path):
    pytest.importorskip("fastapi", reason="transformers serve needs ttscale[serving]")
    # fp32 as the in-process backend on CPU, so greedy decoding gives the same text.
    with TransformersServer(policy_path, device="cpu", dtype="float32", threads=1) as server:
        yield server.base_url


def served(make_cfg, base_url: str, *overrides: str):
    return make_cfg(
        "model=toy-openai", "model.serve=false", f"model.base_url={base_url}", *overrides
    )


def rows_of(summary: dict) -> list[dict]:
    return pq.read_table(summary["path"]).to_pylist()


@pytest.mark.parametrize(
    "approach",
    [
        ("approach=best_of_n", "n=4"),
        ("approach=beam_search", "approach.beam_width=2", "n=4", "approach.num_iterations=8"),
    ],
    ids=["best_of_n", "beam_search"],
)
@pytest.mark.serve
@pytest.mark.slow
def test_searches_run_unchanged_through_the_server(make_cfg, toy_server, approach):
    summary = main(served(make_cfg, toy_server, *approach, "dataset.num_samples=2", "seed=1"))
    rows = rows_of(summary)
    assert "toy-policy-openai" in Path(summary["path"]).parts
    assert len(rows) == 2
    for r in rows:
        assert len(r["completions"]) == len(r["completion_tokens"]) == 4
        assert all(t > 0 for t in r["completion_tokens"])
        assert r["prm_calls"] >= 1 and all(len(s) >= 1 for s in r["scores"])
    if approach[0] == "approach=beam_search":
        # Steps stopped at the blank line, which the server keeps and we map to "stop".
        steps = [n for r in rows for n in json.loads(r["tree"]) if n["finish"] == "stop"]
        assert steps and all(n["text"].endswith("\n\n") for n in steps)
        assert max(r["generate_calls"] for r in rows) >= 2


@pytest.mark.serve
@pytest.mark.slow
def test_same_results_as_the_in_process_backend(make_cfg, toy_server):
    """Greedy decoding of the same fp32 weights: the same completions, so the same accuracy.

    Exact equality is the tightest "same quality" check there is, and it needs no sampling
    tolerance: any divergence is a bug in prompts, stop handling or token counting. Sampled
    runs cannot be compared sample for sample (the server has its own RNG); its sampling is
    checked in the next test.
    """
    common = ("approach=majority", "prm=none", "n=1", "temperature=0", "dataset.num_samples=6")
    remote = rows_of(main(served(make_cfg, toy_server, *common)))
    local = rows_of(main(make_cfg(*common)))
    assert [r["completions"] for r in remote] == [r["completions"] for r in local]
    assert [r["completion_tokens"] for r in remote] == [r["completion_tokens"] for r in local]
    assert [r["correct"] for r in remote] == [r["correct"] for r in local]
    assert any(r["correct"][0] for r in local)  # not a degenerate all-wrong comparison


@pytest.mark.serve
@pytest.mark.slow
def test_server_sampling_honours_temperature_and_seed(toy_server, policy_path, hf_generator):
    from ttscale.backends.openai import OpenAIGenerator
    from ttscale.learn.toy_policy import prompt_of

    # transformers serve answers only for the model it was started with: its path. It seeds
    # one global RNG per request, so two requests in flight at once interleave their draws:
    # seeded replies are reproducible only one request at a time (concurrency=1).
    gen = OpenAIGenerator(
        toy_server, model=policy_path, tokenizer=hf_generator.tokenizer, concurrency=1
    )
    prompt = prompt_of(hf_generator.tokenizer, "Compute 48-9*7+35.")
    p = SamplingParams(n=3, temperature=1.5, max_tokens=40, seed=4)
    first = [c.text for c in gen.generate([prompt], [p])[0]]
    assert [c.text for c in gen.generate([prompt], [p])[0]] == first
    assert len(set(first)) > 1


@pytest.mark.serve
@pytest.mark.slow
def test_a_server_the_run_starts_is_stopped_after_success_and_error(
    make_cfg, monkeypatch, policy_path
):
    from ttscale.search import APPROACHES

    pytest.importorskip("fastapi", reason="transformers serve needs ttscale[serving]")

    started: list[tuple[int, Path]] = []
    real_start = TransformersServer.start

    def record(self: TransformersServer) -> str:
        url = real_start(self)
        started.append((self.proc.pid, self.workdir))
        return url

    monkeypatch.setattr(TransformersServer, "start", record)
    common = ("model=toy-openai", "approach=majority", "prm=none", "n=1", "max_tokens=30")
    summary = main(make_cfg(*common, "dataset.num_samples=1"))
    assert len(rows_of(summary)) == 1

    def explode(self, problems, ctx):
        ctx.generator.generate([ctx.prompt(problems[0])], [SamplingParams(max_tokens=5)])
        raise RuntimeError("search failed")

    monkeypatch.setattr(APPROACHES.get("majority"), "search", explode)
    with pytest.raises(RuntimeError, match="search failed"):
        main(make_cfg(*common, "dataset.num_samples=2"))
    assert len(started) == 2
    for pid, workdir in started:
        assert gone(pid) and not workdir.exists()


@pytest.mark.serve
@pytest.mark.slow
def test_a_server_started_by_hand_with_a_relative_path_is_found(make_cfg, monkeypatch):
    """`transformers serve models/toy-policy` answers only for that exact name; the config's
    path is absolute. The backend asks /v1/models which model the server holds."""
    pytest.importorskip("fastapi", reason="transformers serve needs ttscale[serving]")
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT)
    with TransformersServer("models/toy-policy", device="cpu", dtype="float32", threads=1) as s:
        summary = main(served(make_cfg, s.base_url, "n=1", "dataset.num_samples=1"))
    assert len(rows_of(summary)) == 1


@pytest.mark.serve
@pytest.mark.slow
def test_a_confidence_scorer_on_transformers_serve_fails_at_once_with_the_reason(
    make_cfg, toy_server
):
    """transformers serve (5.x) ignores ``logprobs``: a run that needs them stops on the first
    reply, saying why and what to use, instead of retrying or scoring without them."""
    from ttscale.backends.openai import ServerError

    cfg = served(make_cfg, toy_server, "approach=majority", "scorer=mean_logprob", "n=2",
                 "dataset.num_samples=1")  # fmt: skip
    with pytest.raises(ServerError, match="does not return log-probabilities.*backend=hf"):
        main(cfg)
