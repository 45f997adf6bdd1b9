"""``storage=hub``: results in a Hugging Face Hub dataset, through ``huggingface_hub.HfApi``.

- Each shard pushes its chunk to its own branch ``{run name}--chunk-{start}_{end}``, created
  from the repo's first commit, in ONE commit: tasks never touch each other's files (the
  anchors' ``push_to_hub`` of one config from many tasks deletes the others' files).
- The merge lists the run's branches (exact names, not substrings), reads the chunks, and
  pushes the merged run as a config (``{run}/train-00000-of-00001.parquet``) on
  ``storage.revision`` together with the dataset card, again in one commit.
- 409/412/429 and 5xx responses are retried with exponential backoff and jitter.
- The token is read by huggingface_hub from ``HF_TOKEN``; it is never logged, and it is
  scrubbed from every error this module raises.

Every file is also staged under ``storage.results_dir`` (the :class:`LocalStore` layout).
Not verified against the real Hub (unreachable where this was built): the tests fake HfApi.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ttscale import retry
from ttscale.storage import (
    ChunkError,
    LocalStore,
    read_summary,
    read_valid_chunk,
    readable,
    rows_to_parquet,
    summary_json,
)
from ttscale.storage.naming import chunk_name, parse_chunk_name

log = logging.getLogger("ttscale")
T = TypeVar("T")
RETRY_STATUS = frozenset({409, 412, 429})
REPO_TYPE = "dataset"
MERGED_FILE = "train-00000-of-00001.parquet"


class HubError(RuntimeError):
    """A Hub call that failed (after retries where they apply); never contains the token."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def scrub(text: str) -> str:
    """``text`` with the Hub token (and any other secret in the environment) as ``***``."""
    from ttscale.redact import scrub as scrub_values
    from ttscale.redact import secret_values

    return scrub_values(text, secret_values())


def http_status(err: BaseException) -> int | None:
    """The HTTP status of a huggingface_hub error (any version), or None."""
    return getattr(getattr(err, "response", None), "status_code", None)


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    max_retries: int,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    base: float = 1.0,
    cap: float = 60.0,
) -> T:
    """Run ``call``; on 409/412/429/5xx wait ``base * 2**attempt`` (capped, with jitter), retry.

    A 429's ``Retry-After`` header is honoured when longer. Other errors, and the last
    retryable one, raise :class:`HubError` naming ``what`` (token scrubbed).
    """
    rng = rng or random.Random()
    for attempt in range(max_retries + 1):
        try:
            return call()
        except Exception as err:
            status = http_status(err)
            if status is None:
                raise  # not an HTTP answer (a bug, a missing file): keep its traceback
            retryable = status in RETRY_STATUS or status >= 500
            if not retryable or attempt == max_retries:
                tries = f" after {attempt + 1} attempts" if retryable else ""
                raise HubError(scrub(f"{what} failed{tries}: {err}"), status=status) from None
            headers = getattr(getattr(err, "response", None), "headers", None) or {}
            delay = retry.delay(attempt + 1, base, cap, headers.get("Retry-After"), rng)
            log.warning(
                "%s: HTTP %s, retry %d/%d in %.1fs", what, status, attempt + 1, max_retries, delay
            )
            sleep(delay)
    raise AssertionError("unreachable")


def dataset_card(repo_id: str, configs: list[str]) -> str:
    """The README of the results repo: one config per merged run."""
    lines = ["---", "configs:"]
    for name in sorted(configs):
        lines += [
            f"- config_name: {name}",
            "  data_files:",
            "  - split: train",
            f"    path: {name}/train-*",
        ]
    lines += [
        "---",
        f"# {repo_id}",
        "",
        "Test-time scaling results written by ttscale. Each config is one merged run, named",
        "after its config; branches `{run}--chunk-{start}_{end}` hold the shards it was merged",
        "from.",
        "",
    ]
    return "\n".join(lines)


class HubStore:
    """Chunks on per-shard branches of a Hub dataset; merged runs as configs on ``revision``."""

    def __init__(
        self,
        repo_id: str,
        *,
        local: LocalStore,
        private: bool = True,
        revision: str = "main",
        max_retries: int = 6,
        api: Any = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.repo_id = repo_id
        self.local = local
        self.private = private
        self.revision = revision
        self.max_retries = max_retries
        self._api = api
        self._sleep = sleep or time.sleep
        self._rng = rng or random.Random()
        self._first_commit: str | None = None

    @classmethod
    def from_config(
        cls, storage: Any, *, prefix: str = "", identity: dict[str, Any] | None = None
    ) -> HubStore:
        return cls(
            storage.repo_id,
            local=LocalStore(storage.results_dir, prefix, identity),
            private=storage.private,
            revision=storage.revision,
            max_retries=storage.max_retries,
        )

    @property
    def api(self) -> Any:
        if self._api is None:
            try:
                from huggingface_hub import HfApi
            except ImportError:
                raise ImportError(
                    "storage=hub needs huggingface_hub: pip install 'ttscale[hub]'"
                ) from None
            self._api = HfApi()  # reads HF_TOKEN itself: the token never passes through us
        return self._api

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return with_retries(
            fn, what=what, max_retries=self.max_retries, sleep=self._sleep, rng=self._rng
        )

    # names -----------------------------------------------------------------------------
    def branch(self, run: str, start: int, end: int) -> str:
        return f"{run}--{chunk_name(start, end)}"

    def chunk_path(self, run: str, start: int, end: int) -> str:
        file = f"{chunk_name(start, end)}.parquet"
        return f"hf://datasets/{self.repo_id}@{self.branch(run, start, end)}/{file}"

    # protocol --------------------------------------------------------------------------
    def check_writable(self) -> None:
        """The staging folder is writable and the repo exists (created if not)."""
        self.local.check_writable()
        self._call(
            f"create repo {self.repo_id}",
            lambda: self.api.create_repo(
                self.repo_id, repo_type=REPO_TYPE, private=self.private, exist_ok=True
            ),
        )

    def list_chunks(self, run: str) -> list[tuple[int, int]]:
        """Ranges of the branches named exactly ``{run}--chunk-{start}_{end}``."""
        refs = self._call(
            f"list branches of {self.repo_id}",
            lambda: self.api.list_repo_refs(self.repo_id, repo_type=REPO_TYPE),
        )
        head = f"{run}--"
        found = (
            parse_chunk_name(b.name.removeprefix(head))
            for b in refs.branches
            if b.name.startswith(head)
        )
        return sorted(r for r in found if r is not None)

    def has_chunk(self, run: str, start: int, end: int) -> bool:
        """True for a valid chunk of this run; :class:`IdentityError` for another run's.

        Branches are named by the anchors' run name alone, so two runs whose names agree
        share them: the identity inside the chunk tells them apart.
        """
        if (start, end) not in self.list_chunks(run):
            return False
        return readable(lambda: self.read_chunk(run, start, end))

    def chunk_summary(self, run: str, start: int, end: int) -> dict[str, Any] | None:
        """The summary stored inside the chunk on the Hub; None when absent or unreadable."""
        try:
            return read_summary(self._download(run, start, end))
        except (ChunkError, HubError):
            return None

    def read_chunk(self, run: str, start: int, end: int) -> list[dict[str, Any]]:
        path = self._download(run, start, end)
        where = self.chunk_path(run, start, end)
        return read_valid_chunk(path, start, end, name=where, identity=self.local.identity)

    def _download(self, run: str, start: int, end: int) -> str:
        branch = self.branch(run, start, end)
        where = self.chunk_path(run, start, end)
        try:
            return self._call(
                f"download {where}",
                lambda: self.api.hf_hub_download(
                    self.repo_id,
                    f"{chunk_name(start, end)}.parquet",
                    repo_type=REPO_TYPE,
                    revision=branch,
                ),
            )
        except HubError as err:
            if err.status == 404:
                raise ChunkError(f"{where}: not found") from None
            raise

    def write_chunk(
        self, run: str, start: int, end: int, rows: list[dict[str, Any]], summary: dict[str, Any]
    ) -> str:
        """Stage the chunk locally, then push it to its own branch in one commit."""
        from huggingface_hub import CommitOperationAdd

        self.local.write_chunk(run, start, end, rows, summary)
        branch = self.branch(run, start, end)
        first = self.first_commit()
        self._call(
            f"create branch {branch}",
            lambda: self.api.create_branch(
                self.repo_id, branch=branch, revision=first, repo_type=REPO_TYPE, exist_ok=True
            ),
        )
        name = chunk_name(start, end)
        ops = [
            CommitOperationAdd(f"{name}.parquet", rows_to_parquet(rows, summary)),
            CommitOperationAdd(f"{name}.json", summary_json(summary)),
        ]
        self._call(
            f"push {branch}",
            lambda: self.api.create_commit(
                self.repo_id,
                ops,
                commit_message=f"{run}: rows [{start}, {end})",
                repo_type=REPO_TYPE,
                revision=branch,
            ),
        )
        return self.chunk_path(run, start, end)

    def write_merged(self, run: str, rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
        """Stage the merge locally, then push it as config ``run`` plus the card, one commit.

        The commit names the head it was built on, so a concurrent merge (412/409) makes
        this re-read the repo and rebuild the card instead of dropping the other's config.
        """
        from huggingface_hub import CommitOperationAdd

        self.local.write_merged(run, rows, summary)
        data, info = rows_to_parquet(rows, summary), summary_json(summary)

        def push() -> Any:
            head = self.api.list_repo_commits(
                self.repo_id, repo_type=REPO_TYPE, revision=self.revision
            )[0].commit_id
            files = self.api.list_repo_files(
                self.repo_id, repo_type=REPO_TYPE, revision=self.revision
            )
            configs = {f.split("/")[0] for f in files if f.endswith(f"/{MERGED_FILE}")} | {run}
            ops = [
                CommitOperationAdd(f"{run}/{MERGED_FILE}", data),
                CommitOperationAdd(f"{run}/summary.json", info),
                CommitOperationAdd(
                    "README.md", dataset_card(self.repo_id, sorted(configs)).encode()
                ),
            ]
            return self.api.create_commit(
                self.repo_id,
                ops,
                commit_message=f"merge {run}: {len(rows)} rows",
                repo_type=REPO_TYPE,
                revision=self.revision,
                parent_commit=head,
            )

        self._call(f"push merged {run} to {self.revision}", push)
        return f"hf://datasets/{self.repo_id}@{self.revision}/{run}/{MERGED_FILE}"

    def first_commit(self) -> str:
        """The repo's first commit: every chunk branch starts there (as the anchors do)."""
        if self._first_commit is None:
            commits = self._call(
                f"list commits of {self.repo_id}",
                lambda: self.api.list_repo_commits(
                    self.repo_id, repo_type=REPO_TYPE, revision=self.revision
                ),
            )
            self._first_commit = commits[-1].commit_id  # newest first
        return self._first_commit
