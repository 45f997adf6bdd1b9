"""Submitit launchers that merge a sweep when its tasks end.

``hydra/launcher=submitit_slurm`` (registered here over hydra-submitit-launcher's own entry,
with all its keys) submits the sweep as one Slurm job array, then a merge job with
``--dependency=afterany:<array id>`` that runs :func:`ttscale.sweep.merge_sweep` on the
tasks' configs. ``hydra.launcher.wait=true`` (default) follows the array and the merge with a
progress bar and prints the merge report; ``wait=false`` prints the job ids, how to follow
them and where the logs are, and returns at once. ``submitit_local`` runs the tasks as local
processes, then merges in this process. A task that dies shows up in ``sacct`` (the local
cluster runs slurmdbd), so the launcher never waits forever on it.

Every launcher here, Hydra's ``basic`` name included (:class:`CheckedBasicLauncher`), checks
every task's input (:func:`ttscale.sweep.sweep_errors`) before any task runs or is submitted.

No ``from __future__ import annotations`` here: Hydra's plugin scan executes this module
outside ``sys.modules``, where dataclasses cannot resolve string annotations.
"""

import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    BaseSubmititLauncher,
    LocalLauncher,
    SlurmLauncher,
)

from ttscale.sweep.hydra import BasicLauncher  # the one module that imports hydra._internal

log = logging.getLogger(__name__)
_OWN_KEYS = ("wait", "merge", "merge_timeout_min", "poll_s")
# Slurm settings the merge job shares with the array (where and as whom it runs).
_MERGE_SHARED = ("partition", "qos", "account", "comment", "constraint", "exclude", "setup")


@dataclass
class MergeOptions:
    wait: bool = True  # follow the array and the merge; false: print job ids and return
    merge: bool = True  # merge the sweep's runs when its tasks end
    merge_timeout_min: int = 60
    poll_s: float = 5.0  # seconds between state checks while waiting


@dataclass
class TtscaleSlurmConf(MergeOptions, SlurmQueueConf):
    _target_: str = "hydra_plugins.ttscale_launcher.launcher.SlurmMergeLauncher"


@dataclass
class TtscaleLocalConf(MergeOptions, LocalQueueConf):
    _target_: str = "hydra_plugins.ttscale_launcher.launcher.LocalMergeLauncher"


# The same names as hydra-submitit-launcher's, so ``hydra/launcher=submitit_slurm`` (and every
# hydra.launcher key users know) gets the merge too. Hydra's plugin scan runs that plugin's
# config module before this one (depth first, in name order), so these entries win;
# tests/slurm/test_launcher.py checks it.
ConfigStore.instance().store(group="hydra/launcher", name="submitit_slurm", node=TtscaleSlurmConf)
ConfigStore.instance().store(group="hydra/launcher", name="submitit_local", node=TtscaleLocalConf)


def _task_configs(launcher: Any, job_overrides: Sequence[Sequence[str]]) -> list[Any]:
    """Every task's composed config; exit 2 before any task runs if one has bad input.

    First, the sweeper's ``multirun.yaml`` (written with the overrides verbatim) is rewritten
    redacted: a sweep killed from now on leaves no secret in it.
    """
    from ttscale.redact import redact_multirun_yaml
    from ttscale.sweep import sweep_errors

    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    redact_multirun_yaml(sweep_dir / "multirun.yaml", [o for ov in job_overrides for o in ov])
    cfgs = [
        launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(o))
        for o in job_overrides
    ]
    errors = sweep_errors(cfgs, job_overrides)
    if errors:
        # stderr is scrubbed of secrets by run.py (ttscale.redact.protect_cli).
        print(
            f"error: nothing was launched: {len(errors)} problem(s) in the sweep", file=sys.stderr
        )
        for e in errors:
            print(f"  {e}", file=sys.stderr)
        raise SystemExit(2)
    return cfgs


class CheckedBasicLauncher(BasicLauncher):
    """Hydra's basic launcher (tasks one after another in this process), but every task's
    input is checked first: a bad combination fails before the ones before it have run."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        _task_configs(self, job_overrides)
        return super().launch(job_overrides, initial_job_idx)


@dataclass
class CheckedBasicConf:
    _target_: str = "hydra_plugins.ttscale_launcher.launcher.CheckedBasicLauncher"


# Also over Hydra's own name (core plugins are scanned before hydra_plugins): plain `-m`
# sweeps get the check; tests/slurm/test_launcher.py checks that this entry wins.
ConfigStore.instance().store(group="hydra/launcher", name="basic", node=CheckedBasicConf)


class MergeIncomplete(RuntimeError):
    """The merge found missing or invalid chunks (its report says which, and how to rerun)."""


def run_merge(cfgs: list[Any]) -> int:
    """The merge job: merge every run of the sweep; fail (non-zero) if any is incomplete."""
    from ttscale.sweep import merge_sweep

    code = merge_sweep(cfgs, progress=False)
    if code:
        raise MergeIncomplete("some runs are incomplete: rerun the commands printed above")
    return code


class _MergeMixin(BaseSubmititLauncher):
    """Submit the sweep as one array, keep its jobs, and merge when they end."""

    def __init__(self, **params: Any) -> None:
        own = {k: params.pop(k) for k in _OWN_KEYS if k in params}
        super().__init__(**params)
        self.options = MergeOptions(**own)

    def _executor(self) -> Any:
        """A submitit executor for the array, from hydra.launcher's keys."""
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        _private_folder(str(init["folder"]))
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items()}
        )
        return executor

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        cfgs = _task_configs(self, job_overrides)  # all checked before anything is submitted
        args = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            args.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                         Singleton.get_state()))  # fmt: skip
        with _submission("the sweep"):
            jobs = self._executor().map_array(self, *zip(*args))
        return self._after_submit(jobs, cfgs, job_overrides)

    def _after_submit(self, jobs: list, cfgs: list, overrides: Sequence) -> list[JobReturn]:
        raise NotImplementedError


@contextlib.contextmanager
def _submission(what: str) -> Any:
    """Turn a refused ``sbatch`` into one line and exit 2 (a bad partition, account, ...)."""
    from submitit.core.utils import FailedJobError

    try:
        yield
    except FailedJobError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        why = next(
            (ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else ""
        )
        print(f"error: sbatch refused {what}: {why}", file=sys.stderr)
        raise SystemExit(2) from None


def _private_folder(template: str) -> None:
    """Make submitit's job folder (up to its first ``%j``-style part) private: 0700.

    Its pickles hold each task's config and result. Secrets never enter them (run.py moves
    command-line secrets into the environment first), but configs are nobody else's
    business on a shared cluster either.
    """
    parts = Path(template).parts
    fixed = Path(*parts[: next((i for i, p in enumerate(parts) if "%" in p), len(parts))])
    fixed.mkdir(parents=True, exist_ok=True, mode=0o700)
    fixed.chmod(0o700)


def _returns(jobs: list, job_overrides: Sequence[Sequence[str]]) -> list[JobReturn]:
    """Each task's JobReturn; a task that failed or was killed gives a FAILED one."""
    out = []
    for job, overrides in zip(jobs, job_overrides):
        try:
            out.append(job.results()[0])
        except Exception as err:  # FailedJobError, UncompletedJobError (killed, timed out)
            out.append(JobReturn(list(overrides), status=JobStatus.FAILED, _return_value=err))
    return out


def _follow(jobs: list, poll_s: float, desc: str) -> None:
    """Wait until every job has ended (sacct sees dead ones), with a progress bar."""
    from tqdm.auto import tqdm

    pending = list(jobs)
    with tqdm(total=len(jobs), desc=desc, unit="task") as bar:
        while pending:
            still = [j for j in pending if not j.done()]
            if len(still) < len(pending):
                bar.update(len(pending) - len(still))
            pending = still
            if pending:
                time.sleep(poll_s)


class SlurmMergeLauncher(_MergeMixin, SlurmLauncher):
    """One Slurm array for the sweep, then a merge job that depends on it (afterany)."""

    def _after_submit(self, jobs: list, cfgs: list, overrides: Sequence) -> list[JobReturn]:
        import submitit

        array_id = jobs[0].job_id.split("_")[0]
        print(f"submitted array {array_id}: {len(jobs)} tasks", flush=True)
        merge_job = None
        if self.options.merge:
            executor = submitit.AutoExecutor(folder=self.params["submitit_folder"], cluster="slurm")
            shared = {f"slurm_{k}": self.params.get(k) for k in _MERGE_SHARED}
            executor.update_parameters(
                name=f"{self.params.get('name', 'ttscale')}-merge",
                timeout_min=self.options.merge_timeout_min,
                cpus_per_task=1,
                slurm_dependency=f"afterany:{array_id}",
                **{k: v for k, v in shared.items() if v},
            )
            with _submission(f"the merge job of array {array_id}"):
                merge_job = executor.submit(run_merge, cfgs)
            print(f"submitted merge job {merge_job.job_id} (afterany:{array_id})", flush=True)
        if not self.options.wait:
            print(_how_to_follow(array_id, merge_job, Path(jobs[0].paths.folder)), flush=True)
            return [JobReturn(list(o), status=JobStatus.COMPLETED) for o in overrides]
        _follow(jobs, self.options.poll_s, f"array {array_id}")
        merged = True
        if merge_job is not None:
            _follow([merge_job], self.options.poll_s, f"merge {merge_job.job_id}")
            merged = _report(merge_job)
        return _checked(_returns(jobs, overrides), merged)


class LocalMergeLauncher(_MergeMixin, LocalLauncher):
    """submitit_local: the tasks as local processes, then the merge in this process."""

    def _after_submit(self, jobs: list, cfgs: list, overrides: Sequence) -> list[JobReturn]:
        if not self.options.wait:
            log.warning(
                "hydra.launcher.wait=false: local tasks are children of this process; waiting"
            )
        _follow(jobs, self.options.poll_s, "local tasks")
        if self.options.merge:
            from ttscale.sweep import merge_sweep

            return _checked(_returns(jobs, overrides), merge_sweep(cfgs) == 0)
        return _returns(jobs, overrides)


def _report(merge_job: Any) -> bool:
    """Print the merge job's report (its stdout without submitit's log lines); did it merge?"""
    out = merge_job.stdout() or ""
    print("\n".join(ln for ln in out.splitlines() if not ln.startswith("submitit ")), flush=True)
    try:
        merge_job.result()
    except Exception:  # the report above says what is missing and how to rerun it
        print(f"merge job {merge_job.job_id} failed; log: {merge_job.paths.stdout}", flush=True)
        return False
    return True


def _checked(returns: list[JobReturn], merged: bool) -> list[JobReturn]:
    """The tasks' returns; if they all completed but the merge did not, exit 1.

    A failed task already makes Hydra exit non-zero (the sweeper raises its error).
    """
    if not merged and all(r.status == JobStatus.COMPLETED for r in returns):
        # SystemExit: the report above says it all, a traceback would bury it
        raise SystemExit("error: the merge found missing or invalid chunks (report above)")
    return returns


def _how_to_follow(array_id: str, merge_job: Any, folder: Path) -> str:
    ids = ",".join(filter(None, [array_id, merge_job and merge_job.job_id]))
    lines = [
        "not waiting (hydra.launcher.wait=false). Follow with:",
        f"  squeue -j {ids}",
        f"  sacct -j {ids} -X -o JobID,JobName,State,Elapsed,ExitCode",
        f"  task logs: {folder.parent}/{array_id}_*/{array_id}_*_0_log.{{out,err}}",
    ]
    if merge_job is not None:
        lines.append(f"  merge report: {merge_job.paths.stdout}")
    return "\n".join(lines)
