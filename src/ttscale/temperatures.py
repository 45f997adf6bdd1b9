"""Temperature schedules: which temperature each sample slot (or beam) uses.

Each schedule is a small pydantic model registered by name; ``temps=<name>`` on the command
line selects its YAML, whose content lands at ``cfg.temperature_schedule``.

* ``single``: every slot at one temperature.
* ``hnc``: hotncold's temperatures with ratios. ``order=interleaved`` (ours, the default)
  spreads them so that every prefix ``slots[:m]`` holds the intended mix; ``order=blocked``
  reproduces hotncold's contiguous blocks of ``floor(n * ratio)`` with the remainder given to
  the largest ratio, whose prefixes hold only the first temperature.
* ``grid``: temperature-tts's grid, written ``"0.0:1.2:0.1"`` (stop included) or as a list;
  slots go round-robin.
* ``cycle``: beam or child ``j`` gets ``temps[j % k]``.
* ``early``: adaptive; see :class:`Early`.

Ratios and grid ranges are computed in exact decimal/rational arithmetic: a ratio of 0.29
of 100 slots is 29 (hotncold's ``int(100 * 0.29)`` is 28), and ``0.0:1.2:0.1`` gives
``0.3``, not ``0.30000000000000004``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ttscale.registry import Registry

SCHEDULES: Registry[type] = Registry("temperature schedule")
MAX_GRID = 10_000  # a typo like "0:1:0.00001" should fail, not allocate a huge grid


class Schedule(BaseModel):
    """Base: ``slots(n)`` gives the temperature of sample slot 0..n-1."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    Options: ClassVar[type]  # the schema config.validate() checks: the schedule class itself
    adaptive: ClassVar[bool] = False  # temperatures chosen per problem from earlier samples

    name: str = ""  # the registered name (temps=<name>), set by config.validate

    def slots(self, n: int) -> list[float]:
        raise NotImplementedError

    def check(self, run) -> list[str]:
        """Cross-field problems with the whole run, each naming its key."""
        return []

    def name_part(self) -> str:
        """The temperature part of a run name (REFERENCE naming grammar)."""
        raise NotImplementedError

    def all_temperatures(self) -> list[float]:
        """Every temperature the schedule can sample at (for the sane-bound check)."""
        out = []
        for key in ("temperature", "low", "high", "temperatures"):
            value = getattr(self, key, None)
            out += value if isinstance(value, list) else [value] if value is not None else []
        return [float(t) for t in out if not isinstance(t, str)]


def _register(name: str) -> Callable[[type[Schedule]], type[Schedule]]:
    def deco(cls: type[Schedule]) -> type[Schedule]:
        cls.Options = cls
        return SCHEDULES.register(name)(cls)

    return deco


def _fmt(t: float) -> str:
    # Python's str(float), as hotncold writes names: 0.8 -> "0.8", 1.0 -> "1.0".
    return repr(float(t))


def _check_temperature(t: float) -> float:
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"temperatures must be finite and >= 0, got {t}")
    return t


def _check_n(run, k: int, key: str = "temperature_schedule.temperatures") -> list[str]:
    if run.n < k:
        return [
            f"n: {run.n} is smaller than the {k} temperatures in {key}; "
            f"every temperature needs at least one sample"
        ]
    return []


@_register("single")
class Single(Schedule):
    """Every slot at one temperature (defaults to the top-level ``temperature``)."""

    temperature: float

    def slots(self, n: int) -> list[float]:
        return [self.temperature] * n

    def check(self, run) -> list[str]:
        t = self.temperature
        if not (math.isfinite(t) and t >= 0):
            return [f"temperature_schedule.temperature: must be a finite number >= 0, got {t}"]
        return []

    def name_part(self) -> str:
        return f"T-{_fmt(self.temperature)}"


# --------------------------------------------------------------------------------------------
# Assignment orders
# --------------------------------------------------------------------------------------------


def blocked_counts(ratios: Sequence[Fraction], n: int) -> list[int]:
    """hotncold's counts: ``floor(n * r)`` each, the remainder to the (first) largest ratio."""
    counts = [math.floor(n * r) for r in ratios]
    counts[max(range(len(ratios)), key=lambda i: (ratios[i], -i))] += n - sum(counts)
    return counts


def interleave(ratios: Sequence[Fraction], n: int) -> list[int]:
    """Index sequence in which every prefix of length m holds ``m * r_i`` of index i, +-1.

    Tijdeman's chairman assignment: among the indices whose deficit ``r_i t - c_i`` reaches
    ``1 / (2k - 2)``, take the one with the earliest deadline. It keeps every prefix count
    within ``1 - 1 / (2k - 2)`` of its target (the plain largest-deficit rule can miss by more
    than one). Equal ratios give the plain cycle 0, 1, ..., k-1, 0, ...
    """
    k = len(ratios)
    used = sum(r > 0 for r in ratios)  # a zero ratio never gets a slot
    eps = Fraction(1, 2 * used - 2) if used > 1 else Fraction(0)
    counts = [0] * k
    out = []
    for t in range(1, n + 1):
        ready = [i for i in range(k) if ratios[i] > 0 and ratios[i] * t - counts[i] >= eps]
        i = min(ready, key=lambda i: ((counts[i] + 1 - eps) / ratios[i], i))
        counts[i] += 1
        out.append(i)
    return out


def _exact(x: float) -> Fraction:
    return Fraction(Decimal(repr(float(x))))  # the decimal the user wrote, not the binary float


@_register("hnc")
class HNC(Schedule):
    """hotncold's multi-temperature sampling: temperature i gets ``ratios[i]`` of the slots.

    Without ratios the temperatures share equally (hotncold then cycles them).
    """

    temperatures: list[float] = Field(min_length=1)
    ratios: list[float] | None = None
    order: Literal["interleaved", "blocked"] = "interleaved"

    @field_validator("temperatures")
    @classmethod
    def _temps(cls, v: list[float]) -> list[float]:
        return [_check_temperature(t) for t in v]

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, v: list[float] | None, info) -> list[float] | None:
        if v is None:
            return v
        temps = info.data.get("temperatures")
        if temps is not None and len(v) != len(temps):
            raise ValueError(
                f"has {len(v)} entries but temperatures has {len(temps)}; "
                "give one ratio per temperature"
            )
        if not all(math.isfinite(r) and r >= 0 for r in v):
            raise ValueError(f"ratios must be finite and >= 0, got {v}")
        if not math.isclose(math.fsum(v), 1.0, abs_tol=1e-6):
            raise ValueError(f"must sum to 1, got {math.fsum(v):g}")
        return v

    def fractions(self) -> list[Fraction]:
        """Exact shares, renormalised so that 0.333/0.333/0.334-style inputs sum to 1."""
        if self.ratios is None:
            return [Fraction(1, len(self.temperatures))] * len(self.temperatures)
        exact = [_exact(r) for r in self.ratios]
        return [r / sum(exact) for r in exact]

    def counts(self, n: int) -> list[int]:
        """Slots per temperature out of n (the same numbers :meth:`slots` uses)."""
        got = Counter(self._indices(n))
        return [got[i] for i in range(len(self.temperatures))]

    def _indices(self, n: int) -> list[int]:
        ratios = self.fractions()
        if self.order == "interleaved":
            return interleave(ratios, n)
        if self.ratios is None:  # hotncold without ratios: plain cycle
            return [j % len(ratios) for j in range(n)]
        return [i for i, c in enumerate(blocked_counts(ratios, n)) for _ in range(c)]

    def slots(self, n: int) -> list[float]:
        return [self.temperatures[i] for i in self._indices(n)]

    def check(self, run) -> list[str]:
        return _check_n(run, len(self.temperatures))

    def name_part(self) -> str:
        """hotncold's ``temps_..__r_..`` for its own data (blocked), ``interleaved_..`` for ours.

        The name ``temps_..__r_..`` means contiguous blocks (tools infer each completion's
        temperature from its position), so interleaved slots with ratios get a prefix that
        no hotncold tool reads as its own. Without ratios both orders are the plain cycle
        hotncold writes, so they share its name.
        """
        temps = "_".join(map(_fmt, self.temperatures))
        if self.ratios is None:
            return f"temps_{temps}"
        head = "interleaved" if self.order == "interleaved" else "temps"
        return f"{head}_{temps}__r_" + "_".join(map(_fmt, self.ratios))


def parse_grid(spec: str) -> list[float]:
    """``"start:stop:step"`` (stop included when on the grid) to exact decimal temperatures."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise ValueError(f"a range must be written start:stop:step, e.g. 0.0:1.2:0.1, got {spec!r}")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except InvalidOperation:
        raise ValueError(f"start, stop and step must be numbers, got {spec!r}") from None
    if not all(x.is_finite() for x in (start, stop, step)):
        raise ValueError(f"start, stop and step must be finite, got {spec!r}")
    if step <= 0:
        raise ValueError(f"step must be > 0, got {spec!r}")
    if stop < start:
        raise ValueError(f"empty grid: stop < start in {spec!r}")
    count = int((stop - start) / step) + 1
    if count > MAX_GRID:
        raise ValueError(f"{spec!r} has {count} temperatures (at most {MAX_GRID})")
    return [float(start + i * step) for i in range(count)]


@_register("grid")
class Grid(Schedule):
    """temperature-tts's grid; slots go round-robin over it (sample j at ``values[j % k]``).

    ``samples_per_temp`` null splits n evenly; when set, n must equal ``k * samples_per_temp``
    (the run's n is always the total, so runs compare at equal total samples).
    """

    temperatures: str | list[float]
    samples_per_temp: int | None = Field(None, ge=1)

    @field_validator("temperatures")
    @classmethod
    def _grid(cls, v: str | list[float]) -> str | list[float]:
        values = parse_grid(v) if isinstance(v, str) else v
        if not values:
            raise ValueError("empty grid: give at least one temperature")
        for t in values:
            _check_temperature(t)
        return v

    @property
    def values(self) -> list[float]:
        t = self.temperatures
        return parse_grid(t) if isinstance(t, str) else list(t)

    def all_temperatures(self) -> list[float]:
        return self.values

    def slots(self, n: int) -> list[float]:
        values = self.values
        return [values[j % len(values)] for j in range(n)]

    def check(self, run) -> list[str]:
        k = len(self.values)
        problems = _check_n(run, k)
        spt = self.samples_per_temp
        if spt is not None and run.n != k * spt:
            problems.append(
                f"n: temps=grid has {k} temperatures x temperature_schedule.samples_per_temp="
                f"{spt} = {k * spt} samples, but n={run.n}; set n={k * spt} or "
                "temperature_schedule.samples_per_temp=null to split n evenly"
            )
        return problems

    def name_part(self) -> str:
        t = self.temperatures
        if isinstance(t, str):
            return "grid_" + "_".join(p.strip() for p in t.split(":"))
        return "temps_" + "_".join(map(_fmt, t))


@_register("cycle")
class Cycle(Schedule):
    """Beam or DVTS child j (or sample j) gets ``temperatures[j % k]`` (hotncold's beams)."""

    temperatures: list[float] = Field(min_length=1)

    @field_validator("temperatures")
    @classmethod
    def _temps(cls, v: list[float]) -> list[float]:
        return [_check_temperature(t) for t in v]

    def slots(self, n: int) -> list[float]:
        return [self.temperatures[j % len(self.temperatures)] for j in range(n)]

    def check(self, run) -> list[str]:
        return _check_n(run, len(self.temperatures))

    def name_part(self) -> str:
        return "temps_" + "_".join(map(_fmt, self.temperatures))


@_register("early")
class Early(Schedule):
    """hotncold's "early" strategy, adaptive per problem (sampled by search/sampling.py).

    Probe ``probe`` samples at ``low``. If the most frequent answer has at least ``thresh``
    votes the problem counts as easy and the rest of the budget (n - probe) is sampled at
    ``low``; otherwise at ``high``. The probe is part of the budget n.
    """

    adaptive: ClassVar[bool] = True

    probe: int = Field(8, ge=1)
    thresh: int = Field(6, ge=1)
    low: float = 0.1
    high: float = 0.8

    @field_validator("low", "high")
    @classmethod
    def _temp(cls, v: float) -> float:
        return _check_temperature(v)

    def slots(self, n: int) -> list[float]:
        raise TypeError(
            "temps=early is adaptive: its temperatures depend on the probe's "
            "answers, so it has no fixed slots (search.sampling samples it)"
        )

    def check(self, run) -> list[str]:
        problems = []
        if self.thresh > self.probe:
            problems.append(
                f"temperature_schedule.thresh: {self.thresh} votes can never "
                f"happen among temperature_schedule.probe={self.probe} samples"
            )
        if run.n < self.probe:
            problems.append(
                f"n: {run.n} is smaller than temperature_schedule.probe="
                f"{self.probe}; the probe is part of the budget"
            )
        if not run.approach.whole_solution:
            problems.append(
                f"temperature_schedule.name: temps=early adapts whole-solution "
                f"sampling; use approach=best_of_n or majority, got approach={run.approach.name}"
            )
        return problems

    def name_part(self) -> str:
        return f"early_{_fmt(self.low)}_{_fmt(self.high)}__probe_{self.probe}__thresh_{self.thresh}"

    def fill_temperature(self, top_votes: int) -> float:
        """The rest of the budget's temperature, from the probe's top answer's votes."""
        return self.low if top_votes >= self.thresh else self.high


__all__ = [
    "SCHEDULES",
    "Schedule",
    "Single",
    "HNC",
    "Grid",
    "Cycle",
    "Early",
    "blocked_counts",
    "interleave",
    "parse_grid",
]
