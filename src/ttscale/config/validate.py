"""Validation: a composed config in, one typed :class:`RunConfig` out, or a :class:`ConfigError`.

Runs once per task. The returned object carries the approach's and the schedule's own typed
options (``run.approach``, ``run.temperature_schedule``), so nothing downstream validates again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ttscale.config.hints import as_typed
from ttscale.config.schema import RunConfig, limit_problems
from ttscale.errors import ConfigError


def validate(cfg: Any) -> RunConfig:
    """Check a composed config; return it typed, approach and schedule options included.

    Raises:
        ConfigError: naming every offending key, before any model or dataset loads.
    """
    from omegaconf import DictConfig

    if isinstance(cfg, RunConfig):  # already validated: one object travels downstream
        return cfg
    try:
        return _validate(cfg)
    except ConfigError as err:
        if isinstance(cfg, DictConfig) and "hydra" in cfg:  # a sweep task: name its presets
            from omegaconf import OmegaConf

            choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None) or {}
            raise ConfigError(as_typed(str(err), choices)) from None
        raise


def _validate(cfg: Any) -> RunConfig:
    from omegaconf import DictConfig

    from ttscale.search import APPROACHES
    from ttscale.temperatures import SCHEDULES

    if isinstance(cfg, DictConfig) and "hydra" in cfg:  # a sweep task: its own overrides
        from omegaconf import OmegaConf

        ignored_overrides(cfg, OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or [])
    data = _resolve(cfg) if isinstance(cfg, DictConfig) else cfg
    data = {k: v for k, v in data.items() if k not in ("hydra", "paths")}
    try:
        run = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, data=data, model=RunConfig)) from None
    # The two discriminated unions: the name picks the registered schema, which checks the rest.
    approach = _options(APPROACHES, "approach", run.approach.model_dump())
    schedule = _options(SCHEDULES, "temperature_schedule", run.temperature_schedule.model_dump())
    run = run.model_copy(update={"approach": approach, "temperature_schedule": schedule})
    problems = [*approach.check(run), *schedule.check(run), *_backend_problems(run)]
    problems += limit_problems(run, [run.temperature, *schedule.all_temperatures()])
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return run


def ignored_overrides(cfg: Any, overrides: Sequence[str]) -> None:
    """A top-level key given on the command line that the chosen group ignores is an error.

    ``temperature`` is read by ``temps=single`` alone; with another schedule it would be
    silently ignored, and the run sampled at the schedule's temperatures instead.
    """
    from omegaconf import ListConfig, OmegaConf

    if isinstance(overrides, ListConfig):  # as given: "n=${oops}" is validate's to report
        overrides = OmegaConf.to_container(overrides, resolve=False)
    keys = {str(o).lstrip("+~").split("=", 1)[0] for o in overrides}
    schedule = cfg["temperature_schedule"]["name"]
    if "temperature" in keys and schedule != "single":
        fields = "low and high" if schedule == "early" else "temperatures"
        raise ConfigError(
            f"invalid config:\n  temperature: read by temps=single only; temps={schedule} "
            f"samples at temperature_schedule.{fields}, so set those instead"
        )


def _backend_problems(run: RunConfig) -> list[str]:
    """Rules across model, PRM and approach: GPU memory shares, chat vs step search."""
    problems = []
    m, p = run.model, run.prm
    total = m.gpu_memory_utilization + p.gpu_memory_utilization
    if p.name != "none" and total > 1 + 1e-9:
        problems.append(
            f"model.gpu_memory_utilization ({m.gpu_memory_utilization:g}) + "
            f"prm.gpu_memory_utilization ({p.gpu_memory_utilization:g}) = {total:g} > 1: "
            "the generator and the PRM share one GPU"
        )
    if m.backend == "openai" and m.endpoint == "chat" and run.approach.step_search:
        problems.append(
            f"model.endpoint: chat cannot continue partial solutions, which "
            f"approach={run.approach.name} needs; use model.endpoint=completions"
        )
    return problems


def _resolve(cfg: Any) -> dict[str, Any]:
    """The config as plain data; a broken ``${...}`` interpolation names its key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if "hydra" in cfg:  # a Hydra job's own node: job-time interpolations, no run's business
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "(config)"
        raise ConfigError(f"invalid config:\n  {key}: {str(err).splitlines()[0]}") from None


def _options(registry, key: str, data: dict[str, Any]):
    name = data["name"]
    try:
        cls = registry.get(name)
    except KeyError as err:
        raise ConfigError(f"{key}.name: {err.args[0]}") from None
    try:
        return cls.Options.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, prefix=f"{key}.", data=data, model=cls.Options)) from None


def _format(err: ValidationError, prefix: str = "", data: Any = None, model: Any = None) -> str:
    """One line per error, naming the key; an unknown key gets the known key closest to it."""
    from ttscale.config.hints import close_key, sal_hint
    from ttscale.redact import is_secret_key

    lines = []
    for e in err.errors():
        key = prefix + ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            *parent, last = (str(p) for p in e["loc"])
            guess = close_key(last, known_keys(data, model, parent))
            full = prefix + ".".join([*parent, guess]) if guess else None
            msg = f"unknown key; did you mean {full}?" if full else "unknown key (typo?)"
            if not parent and not prefix and sal_hint(last):
                msg = f"unknown key: {sal_hint(last)}"
        elif "input" in e and e["type"] != "missing" and not isinstance(e["input"], dict):
            if is_secret_key(key):
                msg += " (value hidden)"
            elif "got " not in msg:  # a check of ours already quotes the value
                shown = repr(e["input"])
                msg += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        # A section's own check names its keys in full ("prm.path: ..."): no second prefix.
        lines.append(msg if key and msg.startswith(f"{key}.") else f"{key or '(root)'}: {msg}")
    return "invalid config:\n  " + "\n  ".join(lines)


def known_keys(data: Any, model: Any, loc: Sequence[str]) -> list[str]:
    """The keys beside an unknown one at ``loc``: in the given data, and the schema's fields."""
    for part in loc:
        data = data.get(part) if isinstance(data, dict) else None
        field = model.model_fields.get(str(part)) if isinstance(model, type) else None
        model = field.annotation if field is not None else None
    keys = [str(k) for k in data] if isinstance(data, dict) else []
    if isinstance(model, type) and issubclass(model, BaseModel):
        keys += list(model.model_fields)
    return keys
