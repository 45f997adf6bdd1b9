"""The Hub store against a fake HfApi (the Hub is unreachable here): branches, commits, retries.

The fake keeps per-branch files and commit ids and raises huggingface_hub's own
``HfHubHTTPError`` with the scripted status codes, so the store's retry and error paths run
as they would against the Hub's HTTP answers.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub.errors import HfHubHTTPError

from tests.chunk_rows import fake_rows, plan_for, problems_of, write_chunks
from ttscale.config import ConfigError, validate
from ttscale.storage import LocalStore, build_store
from ttscale.storage.hub import HubError, HubStore, with_retries
from ttscale.sweep import merge
from ttscale.sweep.hydra import compose

TOKEN = "hf_CANARYtoken0123456789"
RUN = "ttscale_arith--T-0.8--top_p-1.0--n-2--seed-0--agg_strategy-last"


def http_error(status: int, message: str = "", retry_after: str | None = None) -> HfHubHTTPError:
    headers = {"Retry-After": retry_after} if retry_after else {}
    response = SimpleNamespace(status_code=status, headers=headers, request=None)
    return HfHubHTTPError(f"{status} Client Error {message}".strip(), response=response)


class FakeHfApi:
    """The HfApi methods the store uses, over an in-memory repo."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, list[HfHubHTTPError]] = {}
        self.before_commit: Any = None  # called once before the next commit (a racing writer)
        self.snapshots = {"c0": {".gitattributes": b"*.parquet lfs"}}
        self.heads = {"main": ["c0"]}
        self.files = {"main": dict(self.snapshots["c0"])}

    def _enter(self, method: str, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))
        if self.fail.get(method):
            raise self.fail[method].pop(0)

    def commits_to(self, branch: str) -> list[dict[str, Any]]:
        return [k for m, k in self.calls if m == "create_commit" and k["revision"] == branch]

    def create_repo(self, repo_id, *, repo_type, private, exist_ok):
        self._enter("create_repo", repo_id=repo_id, private=private, exist_ok=exist_ok)

    def list_repo_refs(self, repo_id, *, repo_type):
        self._enter("list_repo_refs")
        return SimpleNamespace(branches=[SimpleNamespace(name=b) for b in self.files])

    def list_repo_commits(self, repo_id, *, repo_type, revision):
        self._enter("list_repo_commits", revision=revision)
        return [SimpleNamespace(commit_id=c) for c in reversed(self.heads[revision])]

    def list_repo_files(self, repo_id, *, repo_type, revision):
        self._enter("list_repo_files", revision=revision)
        return sorted(self.files[revision])

    def create_branch(self, repo_id, *, branch, revision, repo_type, exist_ok):
        self._enter("create_branch", branch=branch, revision=revision, exist_ok=exist_ok)
        if branch in self.files and not exist_ok:
            raise http_error(409, "branch exists")
        if branch not in self.files:
            self.files[branch] = dict(self.snapshots[revision])
            self.heads[branch] = [revision]

    def create_commit(self, repo_id, operations, *, commit_message, repo_type, revision, **kw):
        ops = {op.path_in_repo: op.path_or_fileobj for op in operations}
        self._enter("create_commit", revision=revision, paths=sorted(ops), **kw)
        if self.before_commit:
            hook, self.before_commit = self.before_commit, None
            hook()
        if kw.get("parent_commit") not in (None, self.heads[revision][-1]):
            raise http_error(412, "A commit has happened since")
        self.files[revision].update(ops)
        cid = f"c{sum(map(len, self.heads.values()))}"
        self.heads[revision].append(cid)
        self.snapshots[cid] = dict(self.files[revision])

    def hf_hub_download(self, repo_id, filename, *, repo_type, revision):
        self._enter("hf_hub_download", filename=filename, revision=revision)
        if filename not in self.files.get(revision, {}):
            raise http_error(404, "Entry Not Found")
        path = self.tmp / "downloads" / revision / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files[revision][filename])
        return str(path)


@pytest.fixture
def api(tmp_path):
    return FakeHfApi(tmp_path)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def store(tmp_path, api, sleeps):
    return HubStore(
        "me/results",
        local=LocalStore(tmp_path / "staging"),
        api=api,
        sleep=sleeps.append,
        rng=random.Random(0),
    )


def _rows(tmp_path, n: int = 4) -> list[dict]:
    plan = plan_for(tmp_path, f"dataset.num_samples={n}")
    return fake_rows(problems_of(plan))


def test_each_task_pushes_its_chunk_to_its_own_branch_in_one_commit(tmp_path, store, api):
    api.heads["main"].append("c-later")  # main moved on: branches still start at the first commit
    api.snapshots["c-later"] = {}
    rows = _rows(tmp_path)
    store.write_chunk(RUN, 0, 2, rows[:2], {"n": 2})
    store.write_chunk(RUN, 2, 4, rows[2:], {"n": 2})
    branches = [k for m, k in api.calls if m == "create_branch"]
    assert branches == [
        {"branch": f"{RUN}--chunk-0_2", "revision": "c0", "exist_ok": True},
        {"branch": f"{RUN}--chunk-2_4", "revision": "c0", "exist_ok": True},
    ]
    for s, e in [(0, 2), (2, 4)]:
        (commit,) = api.commits_to(f"{RUN}--chunk-{s}_{e}")
        assert commit["paths"] == [f"chunk-{s}_{e}.json", f"chunk-{s}_{e}.parquet"]
    assert api.commits_to("main") == []  # tasks never write main (nor the card)
    assert store.list_chunks(RUN) == [(0, 2), (2, 4)]
    assert store.read_chunk(RUN, 2, 4) == rows[2:]
    assert store.has_chunk(RUN, 0, 2) and not store.has_chunk(RUN, 4, 6)
    assert (store.local.chunk_path(RUN, 0, 2)).is_file()  # staged locally as well
    assert store.chunk_path(RUN, 0, 2) == (
        f"hf://datasets/me/results@{RUN}--chunk-0_2/chunk-0_2.parquet"
    )


def test_a_duplicated_task_leaves_one_valid_chunk(tmp_path, store, api):
    rows = _rows(tmp_path, 2)
    store.write_chunk(RUN, 0, 2, rows, {"task": "first"})
    store.write_chunk(RUN, 0, 2, rows, {"task": "duplicate"})  # the same array task, twice
    branch = f"{RUN}--chunk-0_2"
    assert [k["exist_ok"] for m, k in api.calls if m == "create_branch"] == [True, True]
    assert len(api.commits_to(branch)) == 2  # one commit per task, same files
    assert store.list_chunks(RUN) == [(0, 2)] and store.read_chunk(RUN, 0, 2) == rows


def test_list_chunks_matches_exact_run_names(store, api):
    for b in [
        "r--n-1--chunk-0_2",
        "r--n-16--chunk-0_2",
        "r--n-1--chunk-2_4-old",
        "r--n-1--chunk-2_4",
    ]:
        api.files[b] = {}
    assert store.list_chunks("r--n-1") == [(0, 2), (2, 4)]


def test_409_412_429_and_5xx_are_retried_with_backoff_and_jitter(tmp_path, store, api, sleeps):
    api.fail["create_commit"] = [
        http_error(429, retry_after="7"),
        http_error(412),
        http_error(503),
        http_error(409),
    ]
    store.write_chunk(RUN, 0, 2, _rows(tmp_path, 2), {})
    assert len(api.commits_to(f"{RUN}--chunk-0_2")) == 5  # 4 refused, the 5th lands
    assert "chunk-0_2.parquet" in api.files[f"{RUN}--chunk-0_2"]
    assert sleeps[0] == 7  # Retry-After is honoured when longer than the backoff
    for attempt, delay in enumerate(sleeps[1:], start=1):
        assert 2**attempt / 2 <= delay <= 2**attempt  # exponential, jittered within [b/2, b]
    assert len(set(sleeps[1:])) == 3


def test_jitter_differs_between_tasks():
    def delays(seed: int) -> list[float]:
        calls, out = iter([http_error(429)] * 3), []

        def call():
            err = next(calls, None)
            if err:
                raise err
            return "ok"

        with_retries(call, what="x", max_retries=3, sleep=out.append, rng=random.Random(seed))
        return out

    assert delays(1) != delays(2)


def test_other_errors_fail_at_once_and_retries_run_out(tmp_path, store, api, sleeps):
    api.fail["create_commit"] = [http_error(403, "Forbidden")]
    with pytest.raises(HubError, match=r"push .*--chunk-0_2 failed: 403"):
        store.write_chunk(RUN, 0, 2, _rows(tmp_path, 2), {})
    assert sleeps == []
    store.max_retries = 2
    api.fail["create_commit"] = [http_error(429)] * 3
    with pytest.raises(HubError, match="after 3 attempts") as err:
        store.write_chunk(RUN, 0, 2, _rows(tmp_path, 2), {})
    assert err.value.status == 429 and len(sleeps) == 2


def test_the_token_never_appears_in_errors_or_logs(tmp_path, store, api, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    # A server (or a proxy) that echoes the Authorization header back in its answers.
    api.fail["create_commit"] = [http_error(429, f"Bearer {TOKEN}")] + [
        http_error(401, f"Invalid token {TOKEN}")
    ]
    with caplog.at_level(logging.DEBUG, logger="ttscale"), pytest.raises(HubError) as err:
        store.write_chunk(RUN, 0, 2, _rows(tmp_path, 2), {})
    assert "401" in str(err.value) and TOKEN not in str(err.value)
    assert "429" in caplog.text and TOKEN not in caplog.text
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained echo


def _hub_plan(tmp_path, api, monkeypatch, *extra: str):
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: api)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    plan = plan_for(
        tmp_path, "storage=hub", "storage.repo_id=me/results", "dataset.num_samples=6", *extra
    )
    return plan, build_store(plan.cfg)


def test_merge_pushes_the_run_as_a_config_with_the_card_in_one_commit(tmp_path, api, monkeypatch):
    plan, store = _hub_plan(tmp_path, api, monkeypatch, "shard.count=3")
    assert isinstance(store, HubStore) and store.repo_id == "me/results"
    write_chunks(store, plan)

    def another_merge_lands_first():
        api.files["main"]["older-run/train-00000-of-00001.parquet"] = b"..."
        api.heads["main"].append("c-other")

    api.before_commit = another_merge_lands_first
    report = merge(plan, progress=False)
    assert report.ok and report.rows == 6
    assert report.path == f"hf://datasets/me/results@main/{plan.name}/train-00000-of-00001.parquet"
    refused, landed = api.commits_to("main")  # 412 on a stale head: re-read, rebuild, retry
    assert refused["parent_commit"] == "c0" and landed["parent_commit"] == "c-other"
    assert landed["paths"] == sorted(
        ["README.md", f"{plan.name}/summary.json", f"{plan.name}/train-00000-of-00001.parquet"]
    )
    card = api.files["main"]["README.md"].decode()
    assert f"config_name: {plan.name}" in card and "config_name: older-run" in card
    assert f"path: {plan.name}/train-*" in card
    for s, e in plan.chunks:  # one commit per task, none touching the card
        (commit,) = api.commits_to(f"{plan.name}--chunk-{s}_{e}")
        assert "README.md" not in commit["paths"]
    assert Path(store.local.merged_path(plan.name)).is_file()


def test_merge_on_the_hub_reports_missing_and_broken_branches(tmp_path, api, monkeypatch):
    plan, store = _hub_plan(tmp_path, api, monkeypatch, "shard.count=3")
    write_chunks(store, plan, skip=(1,))
    api.files[f"{plan.name}--chunk-2_4"] = {}  # a task died between branch and commit
    report = merge(plan, progress=False)
    assert report.missing == [(2, 4)] and not report.ok
    assert report.bad == [f"{store.chunk_path(plan.name, 2, 4)}: not found"]
    assert not store.has_chunk(plan.name, 2, 4)
    assert api.commits_to("main") == []  # nothing merged


@pytest.mark.parametrize(
    "repo_id",
    ["a--b", "a/b/c", "-lead/x", "x/trail.", "a..b", "x/y.git", "sp ace/x", "o/" + "n" * 95],
)
def test_a_malformed_repo_id_fails_at_validation(repo_id):
    with pytest.raises(ConfigError, match=r"storage\.repo_id: must be a Hub repo id"):
        validate(compose("storage=hub", f"storage.repo_id='{repo_id}'"))


def test_hub_storage_needs_a_repo_id_and_accepts_valid_ones():
    with pytest.raises(ConfigError, match=r"storage\.repo_id: required when storage\.name=hub"):
        validate(compose("storage=hub"))
    for ok in ["me/results", "HuggingFaceH4/MATH-500", "org_1/a.b-c", "results"]:
        assert validate(compose("storage=hub", f"storage.repo_id={ok}")).storage.repo_id == ok


def test_a_run_whose_name_agrees_refuses_the_other_runs_branch(tmp_path, api, monkeypatch):
    """Branches carry the run name alone: the identity inside each pushed chunk decides."""
    from ttscale.storage import IdentityError

    plan, store = _hub_plan(tmp_path, api, monkeypatch, "shard.count=2")
    write_chunks(store, plan)
    other, theirs = _hub_plan(tmp_path / "elsewhere", api, monkeypatch, "shard.count=2",
                              "max_tokens=64")  # fmt: skip
    assert other.name == plan.name
    with pytest.raises(IdentityError, match="max_tokens: 256 -> 64"):
        theirs.has_chunk(plan.name, 0, 3)
    assert theirs.chunk_summary(plan.name, 0, 3)["identity"]["max_tokens"] == 256  # from the Hub
    report = merge(other, progress=False)
    assert not report.ok and len(report.bad) == 2 and "max_tokens" in report.bad[0]
