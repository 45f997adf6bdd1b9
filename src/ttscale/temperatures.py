"""Temperature schedules: which temperature each sample slot (or beam) uses.

Each schedule is a small pydantic model registered by name; ``temps=<name>`` on the command
line selects its YAML, whose content lands at ``cfg.temperature_schedule``.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from ttscale.registry import Registry

SCHEDULES: Registry[type] = Registry("temperature schedule")


class Schedule(BaseModel):
    """Base: ``slots(n)`` gives the temperature of sample slot 0..n-1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def slots(self, n: int) -> list[float]:
        raise NotImplementedError

    def check(self, run) -> list[str]:
        return []

    def name_part(self) -> str:
        """The temperature part of a run name (REFERENCE naming grammar)."""
        raise NotImplementedError


def _fmt(t: float) -> str:
    return f"{t:g}"


@SCHEDULES.register("single")
class Single(Schedule):
    """Every slot at one temperature (defaults to the top-level ``temperature``)."""

    temperature: float

    class Options:  # the registry's entry point builds the schedule itself
        pass

    def slots(self, n: int) -> list[float]:
        return [self.temperature] * n

    def check(self, run) -> list[str]:
        t = self.temperature
        if not (math.isfinite(t) and t >= 0):
            return [f"temperature_schedule.temperature: must be a finite number >= 0, got {t}"]
        return []

    def name_part(self) -> str:
        return f"T-{_fmt(self.temperature)}"


Single.Options = Single  # type: ignore[misc,assignment]
