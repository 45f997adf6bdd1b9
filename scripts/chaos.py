#!/usr/bin/env python
"""Play faults against small toy runs and sweeps; print fault / survived / evidence.

Every fault is what a user (or a cluster) does to a real run: planted secrets, killed
sweeps, another run's chunk in a folder, a chunk without its summary, a full disk, a server
that stops answering or lies about token counts, and about twenty bad inputs. Each runs
``python run.py`` (or the merge script) as a user would, in a scratch folder, and is judged
by what a user would see: the exit code, one ``error:`` line and no traceback, no secret in
any file, results that a rerun completes.

    python scripts/chaos.py                 # every fault (Slurm ones need the local cluster)
    python scripts/chaos.py --only secret   # faults whose name contains "secret"
    python scripts/chaos.py --keep          # keep the scratch folder and print its path

Exit status: 0 when every fault that ran was survived, 1 otherwise. Faults that cannot run
here (no cluster; not root for the full-disk mount) say so and do not count.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY, PASSWORD = "sk-CHAOS-CANARY-cli-6f1d2b9a", "CHAOSpw-81c3e5d7"
ENV_KEY, HF_TOKEN = "sk-CHAOS-CANARY-env-2a7e4c10", "hf_CHAOScanaryToken93k"
SECRETS = (KEY, PASSWORD, ENV_KEY, HF_TOKEN)
TINY = ["dataset.num_samples=4", "max_tokens=48", "approach=majority", "prm=none",
        "grading.workers=1", "progress=false", "n=2"]  # fmt: skip


@dataclass
class Outcome:
    survived: bool | None  # None: could not run here
    evidence: str


class Scratch:
    """One scratch folder per fault, and ``python run.py`` inside it."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:40]  # Hydra-safe paths
        self.dir.mkdir(parents=True)
        for d in ("home", "tmp"):
            (self.dir / d).mkdir()
        self.env = os.environ | {"OPENAI_API_KEY": ENV_KEY, "HF_TOKEN": HF_TOKEN,
                                 "WANDB_MODE": "offline", "HOME": str(self.dir / "home"),
                                 "TMPDIR": str(self.dir / "tmp")}  # fmt: skip

    def argv(self, *overrides: str) -> list[str]:
        mine = [f"storage.results_dir={self.dir / 'res'}", f"paths.log_dir={self.dir / 'logs'}"]
        given = {o.split("=")[0] for o in overrides}
        flags = [o for o in overrides if o.startswith("-")]  # -m: before the overrides
        rest = [o for o in overrides if not o.startswith("-")]
        return [sys.executable, str(ROOT / "run.py"), *flags,
                *(m for m in mine if m.split("=")[0] not in given), *rest]  # fmt: skip

    def run(self, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*overrides), cwd=ROOT, env=self.env, text=True,
                              capture_output=True, timeout=timeout)  # fmt: skip

    def leaks(self, *texts: str) -> list[str]:
        found = [f"output: {s[:10]}..." for t in texts for s in SECRETS if s in t]
        for path in self.dir.rglob("*"):
            if path.is_file() and any(s.encode() in path.read_bytes() for s in SECRETS):
                found.append(str(path.relative_to(self.dir)))
        return found


def _one_line(proc: subprocess.CompletedProcess, code: int, fragment: str) -> Outcome:
    """Exit ``code``, an ``error:`` line holding ``fragment``, no traceback."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    ok = proc.returncode == code and "Traceback" not in proc.stderr
    ok = ok and any(fragment in ln or fragment in proc.stderr for ln in lines)
    err = proc.stderr.strip().splitlines()
    shown = next((ln.strip() for ln in err if fragment in ln), None)
    shown = shown or (lines or err[-1:] or ["(no output)"])[0]
    return Outcome(ok, f"exit {proc.returncode}: {shown[:150]}")


def _secret_argv() -> list[str]:
    return [f"++model.api_key={KEY}", f"++model.base_url=http://user:{PASSWORD}@127.0.0.1:9/v1"]


def _no_secret(s: Scratch, proc: subprocess.CompletedProcess, what: str) -> Outcome:
    leaks = s.leaks(proc.stdout, proc.stderr)
    files = sum(1 for p in s.dir.rglob("*") if p.is_file())
    if proc.returncode != 0:
        return Outcome(False, f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}")
    return Outcome(not leaks, f"{files} files searched{what}; leaks: {leaks[:3] or 'none'}")


# -- faults --------------------------------------------------------------------------------------


def secrets_basic_sweep(s: Scratch) -> Outcome:
    proc = s.run("-m", *_secret_argv(), *TINY, "seed=0,1")
    return _no_secret(s, proc, " (a 2-task basic sweep)")


def secrets_submitit_local(s: Scratch) -> Outcome:
    proc = s.run("-m", "hydra/launcher=submitit_local", "hydra.launcher.poll_s=0.5",
                 *_secret_argv(), *TINY, "shard.count=2")  # fmt: skip
    pickles = len(list(s.dir.rglob("*.pkl")))
    return _no_secret(s, proc, f", {pickles} submitit pickles among them")


def secrets_submitit_slurm(s: Scratch) -> Outcome:
    if not _cluster_up():
        return Outcome(None, "the local Slurm cluster is down (make cluster-up)")
    proc = s.run("-m", "hydra/launcher=submitit_slurm", "hydra.launcher.poll_s=1",
                 "hydra.launcher.cpus_per_task=1", *_secret_argv(), *TINY, "shard.count=2")  # fmt: skip
    pickles = len(list(s.dir.rglob("*.pkl")))
    return _no_secret(s, proc, f", {pickles} submitit pickles among them")


def sigkill_basic_sweep(s: Scratch) -> Outcome:
    with open(s.dir / "out.txt", "w") as out:
        argv = s.argv("-m", *_secret_argv(), *TINY, "dataset.num_samples=50", "n=2,3")
        proc = subprocess.Popen(argv, cwd=ROOT, env=s.env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not list((s.dir / "logs").rglob("run.log")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    yaml = list((s.dir / "logs").rglob("multirun.yaml"))
    leaks = s.leaks((s.dir / "out.txt").read_text())
    return Outcome(bool(yaml) and not leaks, f"killed mid-task; multirun.yaml: {len(yaml)}; "
                                             f"leaks: {leaks[:3] or 'none'}")  # fmt: skip


def rejected_sbatch(s: Scratch) -> Outcome:
    if not _cluster_up():
        return Outcome(None, "the local Slurm cluster is down (make cluster-up)")
    proc = s.run("-m", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=nosuch",
                 *_secret_argv(), *TINY)  # fmt: skip
    out = _one_line(proc, 2, "sbatch refused")
    leaks = s.leaks(proc.stdout, proc.stderr)
    return Outcome(bool(out.survived) and not leaks, f"{out.evidence}; leaks: {leaks or 'none'}")


def _chunk(s: Scratch) -> Path:
    return next((s.dir / "res").rglob("chunk-*.parquet"))


def _tiny(overrides: list[str]) -> list[str]:
    """TINY without the keys that ``overrides`` set (Hydra refuses a key given twice)."""
    keys = {o.split("=")[0] for o in overrides}
    return [t for t in TINY if t.split("=")[0] not in keys]


def foreign_chunk(s: Scratch, other: str, mine: str) -> Outcome:
    first = s.run(*_tiny([other]), other)
    theirs = _chunk(s)
    from ttscale.config import validate
    from ttscale.identity import run_prefix
    from ttscale.storage.naming import chunk_name, run_name
    from ttscale.sweep.hydra import compose

    run = validate(
        compose(f"storage.results_dir={s.dir / 'res'}", *_tiny([mine]), mine)
    )  # where this run's chunk goes: another run's is planted there
    target = s.dir / "res" / run_prefix(run) / run_name(run)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(theirs, target / f"{chunk_name(0, 4)}.parquet")
    merge = subprocess.run([sys.executable, str(ROOT / "scripts/merge_chunks.py"), *_tiny([mine]),
                            mine, f"storage.results_dir={s.dir / 'res'}", "--no-progress"],
                           cwd=ROOT, env=s.env, text=True, capture_output=True)  # fmt: skip
    rerun = s.run(*_tiny([mine]), mine)
    ok = first.returncode == 0 and merge.returncode == 1 and "other settings" in merge.stdout
    ok = ok and rerun.returncode == 2 and "other settings" in rerun.stderr
    line = next((ln.strip() for ln in merge.stdout.splitlines() if "other settings" in ln), "")
    return Outcome(ok, f"merge exit {merge.returncode} ({line[-120:]}); rerun exit "
                       f"{rerun.returncode}")  # fmt: skip


def chunk_without_summary(s: Scratch) -> Outcome:
    import pyarrow.parquet as pq

    assert s.run(*TINY).returncode == 0
    path = _chunk(s)
    pq.write_table(pq.read_table(path).replace_schema_metadata({}), path)  # the summary lost
    merge = subprocess.run([sys.executable, str(ROOT / "scripts/merge_chunks.py"), *TINY,
                            f"storage.results_dir={s.dir / 'res'}", "--no-progress"], cwd=ROOT,
                           env=s.env, text=True, capture_output=True)  # fmt: skip
    rerun = s.run(*TINY)
    again = subprocess.run([sys.executable, str(ROOT / "scripts/merge_chunks.py"), *TINY,
                            f"storage.results_dir={s.dir / 'res'}", "--no-progress"], cwd=ROOT,
                           env=s.env, text=True, capture_output=True)  # fmt: skip
    ok = merge.returncode == 1 and "no summary" in merge.stdout and "skipping" not in rerun.stdout
    ok = ok and again.returncode == 0
    return Outcome(ok, f"merge exit {merge.returncode} (no summary named); the rerun redid it; "
                       f"merge then exit {again.returncode}")  # fmt: skip


def full_disk(s: Scratch) -> Outcome:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return Outcome(None, "needs root to mount a tiny tmpfs")
    disk = s.dir / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(disk)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        return Outcome(None, f"mount failed: {mounted.stderr.decode().strip()}")
    try:
        proc = s.run(*TINY, f"storage.results_dir={disk}")
        partial = [p.name for p in disk.rglob("*") if p.is_file()]
        out = _one_line(proc, 2, "No space left on device")
        ok = bool(out.survived) and not any(p.endswith(".tmp") for p in partial)
        return Outcome(ok, f"{out.evidence}; files left: {partial or 'none'}")
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


class _Server:
    """A local OpenAI-compatible server that misbehaves on purpose."""

    def __init__(self, mode: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                if mode == "hang":
                    time.sleep(30)
                    return
                body = json.dumps({"choices": [{"text": "", "finish_reason": "stop"}],
                                   "usage": {"completion_tokens": 999999}}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def hung_server(s: Scratch) -> Outcome:
    server = _Server("hang")
    try:
        t0 = time.monotonic()
        proc = s.run(*TINY, "model=toy-openai", "model.serve=false", f"model.base_url={server.url}",
                     "model.timeout=1", "model.max_retries=1000", "model.fail_after=3",
                     "model.concurrency=4", timeout=120)  # fmt: skip
        took = time.monotonic() - t0
    finally:
        server.close()
    out = _one_line(proc, 3, "model.fail_after")
    return Outcome(out.survived, f"{out.evidence} after {took:.0f} s (fail_after 3 s)")


def lying_server(s: Scratch) -> Outcome:
    server = _Server("lie")
    try:
        proc = s.run(*TINY, "model=toy-openai", "model.serve=false", f"model.base_url={server.url}")
    finally:
        server.close()
    if proc.returncode != 0:
        return Outcome(False, f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}")
    import pyarrow.parquet as pq

    tokens = [t for r in pq.read_table(_chunk(s)).to_pylist() for t in r["completion_tokens"]]
    ok = max(tokens) <= 1 and "recounted" in proc.stdout + proc.stderr
    return Outcome(ok, f"claimed 999999 tokens for an empty text; recorded {sorted(set(tokens))}")


def bad_input(overrides: list[str], fragment: str, setup: Callable | None = None):
    def fault(s: Scratch) -> Outcome:
        extra = setup(s) if setup else []
        return _one_line(s.run(*_tiny(overrides + extra), *overrides, *extra), 2, fragment)

    return fault


def _dataset(lines: list[str], bom: bool = False) -> Callable[[Scratch], list[str]]:
    def setup(s: Scratch) -> list[str]:
        path = s.dir / "data.jsonl"
        path.write_bytes(("\ufeff" if bom else "").encode() + "\n".join(lines).encode())
        return ["dataset=math500", "dataset.source=file", f"dataset.path={path}"]

    return setup


def _row(i: int, **fields) -> str:
    return json.dumps({"unique_id": f"u{i}", "problem": f"Compute {i}+1.", "answer": str(i + 1)}
                      | fields)  # fmt: skip


def _damaged(what: str) -> Callable[[Scratch], list[str]]:
    def setup(s: Scratch) -> list[str]:
        folder = s.dir / "policy"
        shutil.copytree(ROOT / "models" / "toy-policy", folder)
        target = folder / what.split(":")[0]
        data = target.read_bytes()
        kind = what.split(":")[1]
        target.write_bytes(data[: len(data) // 3] if kind == "truncate" else b"\x07" * 4096)
        return [f"model.path={folder}"]

    return setup


def bom_dataset(s: Scratch) -> Outcome:
    data = _dataset([_row(0), _row(1)], bom=True)(s)
    proc = s.run(*_tiny(data), *data)
    return Outcome(proc.returncode == 0, f"exit {proc.returncode}: a UTF-8 BOM is read as text")


def read_only_log_folder(s: Scratch) -> Outcome:
    blocker = s.dir / "a-file"
    blocker.write_text("x")
    return _one_line(s.run(*TINY, f"hydra.run.dir={blocker}/logs"), 2, "hydra.run.dir")


def _cluster_up() -> bool:
    status = subprocess.run([str(ROOT / "slurm/local/status.sh")], capture_output=True)
    return status.returncode == 0


FAULTS: dict[str, Callable[[Scratch], Outcome]] = {
    "secret on the command line, in a URL and in the environment: basic sweep": secrets_basic_sweep,
    "the same secrets: submitit_local sweep (its pickles searched)": secrets_submitit_local,
    "the same secrets: submitit_slurm sweep on the local cluster": secrets_submitit_slurm,
    "SIGKILL of a basic sweep mid-task": sigkill_basic_sweep,
    "sbatch refuses the submission (no such partition)": rejected_sbatch,
    "another seed's chunk where this run's goes": lambda s: foreign_chunk(s, "seed=1", "seed=0"),
    "an n=4 chunk in an n=2 run's folder": lambda s: foreign_chunk(s, "n=4", "n=2"),
    "a chunk without its summary (killed between the two)": chunk_without_summary,
    "the disk fills up while writing results": full_disk,
    "the server stops answering": hung_server,
    "the server claims 999999 tokens for an empty text": lying_server,
    "seed=-5": bad_input(["seed=-5"], "seed: Input should be greater than or equal to 0"),
    "seed=2**64": bad_input(["seed=18446744073709551616"], "seed: Input should be less than"),
    "n=100000000": bad_input(["n=100000000"], "is past 16384"),
    "max_tokens=100000000": bad_input(["max_tokens=100000000"], "is past 262144"),
    "temperature=1e300": bad_input(["temperature=1e300"], "is past 4"),
    "dataset.start=0 end=10 num_samples=4": bad_input(
        ["dataset.start=0", "dataset.end=10", "dataset.num_samples=4"], "would cut"
    ),
    "a dict unique_id": bad_input(
        [], "must be a string or an integer", _dataset([_row(0), _row(1, unique_id={"a": 1})])
    ),  # fmt: skip
    "a JSONL with a UTF-8 BOM": bom_dataset,
    "a 5 MB problem text": bad_input(
        [], "its prompt is", _dataset([_row(0, problem="1+" * 2_500_000 + "1")])
    ),  # fmt: skip
    "a corrupt config.json": bad_input(
        [], "model.path: cannot load", _damaged("config.json:garbage")
    ),  # fmt: skip
    "a truncated model.safetensors": bad_input(
        [], "model.path: cannot load", _damaged("model.safetensors:truncate")
    ),  # fmt: skip
    "a random model.safetensors": bad_input(
        [], "model.path: cannot load", _damaged("model.safetensors:garbage")
    ),  # fmt: skip
    "a corrupt tokenizer.json": bad_input(
        [], "model.path: cannot load", _damaged("tokenizer.json:garbage")
    ),  # fmt: skip
    "a 5,000-character model.name": bad_input(["model.name=" + "m" * 5000], "model.name"),
    "hydra.run.dir on an unwritable path": read_only_log_folder,
    "prm=skywork-1.5b pointed at a policy (a new value head)": bad_input(
        ["approach=best_of_n", "prm=skywork-1.5b", f"prm.path={ROOT / 'models/toy-policy'}"],
        "would be newly initialised",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the faults whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    chosen = {k: f for k, f in FAULTS.items() if args.only in k}
    root = Path(tempfile.mkdtemp(prefix="ttscale-chaos-"))
    rows, failed = [], 0
    try:
        for i, (name, fault) in enumerate(chosen.items()):
            print(f"[{i + 1}/{len(chosen)}] {name}", file=sys.stderr, flush=True)
            try:
                out = fault(Scratch(root, f"{i:02d}-{name}"))
            except Exception as err:  # noqa: BLE001 - a fault that breaks the harness fails
                out = Outcome(False, f"harness error: {type(err).__name__}: {err}")
            failed += out.survived is False
            mark = {True: "yes", False: "NO", None: "not run"}[out.survived]
            rows.append(f"| {name} | {mark} | {out.evidence.replace('|', '/')} |")
    finally:
        if args.keep:
            print(f"scratch folder: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("| fault | survived | evidence |\n|---|---|---|\n" + "\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
