"""Run names, derived from the config with the anchors' subset grammar (never typed by hand).

Best-of-N: ``{dataset}--T-{T}--top_p-{p}--n-{n}--seed-{s}--agg_strategy-{agg}``; beam search
and DVTS write ``...--n-{n}--m-{m}--iters-{it}--look-{l}--seed-{s}--agg_strategy--{agg}``
(search-and-learn's order and double dash); hotncold's blocks write
``temps_0.4_0.8__r_0.5_0.5`` in place of ``T-0.8`` (our interleaved order:
``interleaved_0.4_0.8__r_0.5_0.5``); shards add ``--chunk-{start}_{end}``.
:func:`parse_run_name` is the inverse: it turns such a name (ours, search-and-learn's or
hotncold's) back into its fields, so analysis can group and compare runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHUNK",
    "RunName",
    "chunk_name",
    "parse_chunk_file",
    "parse_chunk_name",
    "parse_run_name",
    "run_name",
]


def run_name(run: Any) -> str:
    """The run's name, byte-identical to what search-and-learn / hotncold write.

    ``{dataset}--{temperature part}--top_p-{p}--n-{n}{approach part}--seed-{s}--agg_strategy-{a}``
    with floats as Python's ``str`` (``top_p-1.0``). Step searches (beam search, DVTS) put
    ``--m-{m}--iters-{it}--look-{l}`` before the seed and write ``agg_strategy--{a}``, as
    search-and-learn does. Settings the anchors leave out of names live in the run identity
    (:mod:`ttscale.identity`), never here.
    """
    dataset = run.dataset.name.replace("/", "_")
    approach, schedule = run.approach, run.temperature_schedule
    sep = getattr(approach, "agg_separator", "-")
    return (
        f"{dataset}--{schedule.name_part()}--top_p-{float(run.top_p)!r}--n-{run.n}"
        f"{approach.name_part()}--seed-{run.seed}--agg_strategy{sep}{run.agg_strategy}"
    )


CHUNK = re.compile(r"chunk-(\d+)_(\d+)")  # the one pattern of a chunk's name


def chunk_name(start: int, end: int) -> str:
    """``chunk-{start}_{end}``: the file (or Hub branch suffix) of rows [start, end)."""
    return f"chunk-{start}_{end}"


def parse_chunk_name(text: str) -> tuple[int, int] | None:
    """The inverse of :func:`ttscale.storage.naming.chunk_name`: ``chunk-3_6`` -> (3, 6), else None."""
    m = CHUNK.fullmatch(text)
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    return (start, end) if chunk_name(start, end) == text else None  # canonical only


def parse_chunk_file(name: str) -> tuple[int, int] | None:
    """``chunk-3_6.parquet`` -> (3, 6); anything else -> None."""
    return parse_chunk_name(name.removesuffix(".parquet")) if name.endswith(".parquet") else None


@dataclass(frozen=True)
class RunName:
    """The fields of a run name.

    Attributes:
        name: The name as given.
        dataset: First field (``/`` written as ``_``).
        schedule: ``single``, ``hnc``, ``grid``, ``early`` or ``cycle`` (several temperatures,
            no ratios: hnc's equal shares or cycle, which the name cannot tell apart).
        temperatures: The temperatures named (for ``early``: low, high; for a grid: expanded).
        ratios: hnc ratios, or None.
        top_p, n, seed, agg_strategy: Sampling fields (None when absent).
        beam_width, iterations, lookahead: Step-search fields ``m``, ``iters``, ``look``.
        chunk: ``(start, end)`` of a shard's name, else None.
        options: Every other ``--key-value`` field (approach options), values as strings;
            a bare flag such as ``--no_exit`` maps to ``"true"``.
    """

    name: str
    dataset: str
    schedule: str
    temperatures: tuple[float, ...]
    ratios: tuple[float, ...] | None = None
    top_p: float | None = None
    n: int | None = None
    seed: int | None = None
    agg_strategy: str | None = None
    beam_width: int | None = None
    iterations: int | None = None
    lookahead: int | None = None
    chunk: tuple[int, int] | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """The name without its ``--chunk-*`` part (a shard's run)."""
        return re.sub(rf"--{CHUNK.pattern}$", "", self.name)

    @property
    def without_seed(self) -> str:
        """The name with ``seed-{s}`` blanked: runs equal but for the seed share it."""
        return re.sub(r"--seed-\d+(?=--|$)", "--seed-*", self.base)

    @property
    def temperature_label(self) -> str:
        """A short label: ``T=0.8``, ``T=0.4/0.8 (0.5/0.5)``, ``grid 0.0..1.2``, ..."""
        temps = "/".join(f"{t:g}" for t in self.temperatures)
        if self.schedule == "single":
            return f"T={temps}"
        if self.ratios is not None:
            return f"T={temps} ({'/'.join(f'{r:g}' for r in self.ratios)})"
        if self.schedule == "early":
            return f"early T={temps}"
        return f"{self.schedule} T={temps}"


_INT_FIELDS = {"n": "n", "seed": "seed", "m": "beam_width", "iters": "iterations"}
_INT_FIELDS["look"] = "lookahead"


def _floats(parts: list[str], name: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"run name {name!r}: bad {what} {'_'.join(parts)!r}") from None


def _grid(spec: list[str], name: str) -> tuple[float, ...]:
    from ttscale.temperatures import parse_grid

    try:
        return tuple(parse_grid(":".join(spec)))
    except ValueError as err:
        raise ValueError(f"run name {name!r}: bad temperature grid: {err}") from None


def _temperature_part(part: str, name: str) -> dict[str, Any]:
    """Fields of the temperature segment (``T-0.8``, ``temps_..``, ``grid_..``, ``early_..``)."""
    if part.startswith("T-"):
        return {"schedule": "single", "temperatures": _floats([part[2:]], name, "temperature")}
    if part.startswith("grid_"):
        return {"schedule": "grid", "temperatures": _grid(part[5:].split("_"), name)}
    if part.startswith("early_"):
        head, *rest = part[6:].split("__")
        opts = dict(r.split("_", 1) for r in rest if "_" in r)
        return {
            "schedule": "early",
            "temperatures": _floats(head.split("_"), name, "temperatures"),
            "options": opts,
        }
    if part.startswith(("temps_", "interleaved_")):
        head, _, body = part.partition("_")
        temps, *rest = body.split("__")
        out: dict[str, Any] = {
            "schedule": "cycle",
            "temperatures": _floats(temps.split("_"), name, "temperatures"),
            "options": {},
        }
        for r in rest:
            key, _, value = r.partition("_")
            if key == "r":
                out["ratios"] = _floats(value.split("_"), name, "ratios")
                out["schedule"] = "hnc"
            else:
                out["options"][key] = value
        if head == "interleaved":
            out["schedule"] = "hnc"
            out["options"]["order"] = "interleaved"
        return out
    raise ValueError(
        f"run name {name!r}: second field {part!r} is not a temperature part "
        "(T-{T}, temps_..., interleaved_..., grid_..., early_...)"
    )


def parse_run_name(name: str) -> RunName:
    """Parse a run (or Hub config / branch) name back into its fields.

    Args:
        name: e.g. ``HuggingFaceH4_MATH-500--T-0.8--top_p-1.0--n-16--seed-0--agg_strategy-last``.

    Returns:
        The fields as a :class:`RunName`.

    Raises:
        ValueError: naming the name and the field that does not fit the grammar.
    """
    parts = name.split("--")
    if len(parts) < 2 or not parts[0]:
        raise ValueError(f"run name {name!r}: expected '{{dataset}}--{{temperature}}--...'")
    fields: dict[str, Any] = {"name": name, "dataset": parts[0]}
    fields.update(_temperature_part(parts[1], name))
    options: dict[str, str] = dict(fields.pop("options", {}))
    rest = iter(parts[2:])
    for part in rest:
        key, sep, value = part.partition("-")
        if key == "agg_strategy" and not sep:  # search-and-learn's step-search "agg_strategy--last"
            fields["agg_strategy"] = next(rest, "")
            if not fields["agg_strategy"]:
                raise ValueError(f"run name {name!r}: agg_strategy has no value")
        elif key == "n" and value == "merged":  # a published merge of several n
            options["merged"] = "true"
        elif not sep:
            options[key] = "true"  # a bare flag, e.g. --no_exit
        elif key == "chunk":
            m = CHUNK.fullmatch(f"chunk-{value}")
            if m is None:
                raise ValueError(f"run name {name!r}: bad chunk {value!r}, expected START_END")
            fields["chunk"] = (int(m.group(1)), int(m.group(2)))
        elif key in _INT_FIELDS:
            try:
                fields[_INT_FIELDS[key]] = int(value)
            except ValueError:
                raise ValueError(f"run name {name!r}: {key}-{value} is not an integer") from None
        elif key == "top_p":
            fields["top_p"] = _floats([value], name, "top_p")[0]
        elif key == "agg_strategy":
            fields["agg_strategy"] = value
        else:
            options[key] = value
    return RunName(**fields, options=options)
