"""Merge a sweep run by Hydra's basic launcher (tasks in this process) when it ends.

The submitit launchers merge on their own (see launcher.py). Their tasks run in other
processes, so this callback sees none of them and does nothing there.
"""

from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class MergeAfterSweep(Callback):
    """Collect each finished task's config; at the end of the multirun, merge their runs."""

    def __init__(self) -> None:
        self.cfgs: list[DictConfig] = []

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status == JobStatus.COMPLETED:
            self.cfgs.append(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.cfgs:
            return
        from ttscale.sweep import merge_sweep

        progress = bool(self.cfgs[0].get("progress", True))  # progress=false: no merge bar
        # The report printed says what is missing and how to rerun it.
        if merge_sweep(self.cfgs, progress=progress):
            raise SystemExit("error: the merge found missing or invalid chunks (report above)")
