"""The typed schema of a run's config, checked before anything heavy starts.

Hydra composes YAML from ``conf/``; :func:`validate` turns it into :class:`RunConfig` or
raises :class:`ConfigError` with every problem named by its dotted key, e.g.
``top_p: must be in (0, 1], got 1.5``. Config objects do no I/O.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ttscale.prm.aggregate import STRATEGIES

ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """An invalid config; the message names each offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    name: str
    path: str
    backend: Literal["hf", "vllm", "openai"] = "hf"
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = Field(64, ge=1)
    system_prompt: str | None = None
    trust_remote_code: bool = False
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    tensor_parallel_size: int = Field(1, ge=1)
    base_url: str | None = None
    api_key: str | None = None


class PRMConfig(_Strict):
    name: str
    path: str | None = None
    batch_size: int = Field(32, ge=1)
    device: str = "auto"
    dtype: str = "auto"
    step_tag: str = "ки"
    good_token: str = "+"
    bad_token: str = "-"
    noise: float = Field(0.0, ge=0)
    gpu_memory_utilization: float = Field(0.0, ge=0, le=1)


class DatasetConfig(_Strict):
    name: str
    source: Literal["toy", "file", "hub"] = "file"
    path: str | None = None
    split: str = "test"
    problem_key: str = "problem"
    answer_key: str = "answer"
    id_key: str | None = "unique_id"
    num_samples: int | None = Field(None, ge=1)
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> DatasetConfig:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"dataset.end ({self.end}) must be > dataset.start ({self.start})")
        if self.source in ("file", "hub") and not self.path:
            raise ValueError(f"dataset.path is required when dataset.source={self.source}")
        return self


class ShardConfig(_Strict):
    index: int = Field(0, ge=0)
    count: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _index(self) -> ShardConfig:
        if self.index >= self.count:
            raise ValueError(f"shard.index ({self.index}) must be < shard.count ({self.count})")
        return self


class StorageConfig(_Strict):
    name: Literal["local", "hub"] = "local"
    results_dir: str
    repo_id: str | None = None


class TrackingConfig(_Strict):
    name: Literal["none", "wandb"] = "none"
    project: str = "ttscale"
    entity: str | None = None
    mode: Literal["offline", "online", "disabled"] = "offline"
    group: str | None = None
    dir: str | None = None


class MetricsConfig(_Strict):
    subset_mode: Literal["random", "prefix"] = "random"
    draws: int = Field(100, ge=1)


class GradingConfig(_Strict):
    workers: int = Field(2, ge=1)
    timeout: float = Field(5.0, gt=0)


class ApproachConfig(BaseModel):
    """The approach's own options are checked by the approach's schema (see search/)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class ScheduleConfig(BaseModel):
    """Checked by the schedule's own schema (see temperatures.py)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class RunConfig(_Strict):
    model: ModelConfig
    prm: PRMConfig
    approach: ApproachConfig
    temperature_schedule: ScheduleConfig
    dataset: DatasetConfig
    storage: StorageConfig
    tracking: TrackingConfig
    shard: ShardConfig = ShardConfig()
    metrics: MetricsConfig = MetricsConfig()
    grading: GradingConfig = GradingConfig()
    n: int = Field(..., ge=1)
    temperature: float
    top_p: float
    max_tokens: int = Field(..., ge=1)
    seed: int = 0
    agg_strategy: str = "last"
    progress: bool = True
    overwrite: bool = False

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, v: float) -> float:
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"must be a finite number >= 0, got {v}")
        return v

    @field_validator("top_p")
    @classmethod
    def _top_p(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"must be in (0, 1], got {v}")
        return v

    @field_validator("agg_strategy")
    @classmethod
    def _agg(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"must be one of {', '.join(STRATEGIES)}, got {v!r}")
        return v


def validate(cfg: Any) -> tuple[RunConfig, Any, Any]:
    """Check a composed config; return it typed with the approach and schedule options.

    Raises:
        ConfigError: naming every offending key, before any model or dataset loads.
    """
    from omegaconf import DictConfig, OmegaConf

    from ttscale.search import APPROACHES
    from ttscale.temperatures import SCHEDULES

    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    data = {k: v for k, v in data.items() if k not in ("hydra", "paths")}
    try:
        run = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err)) from None
    approach = _options(APPROACHES, "approach", run.approach.model_dump())
    schedule = _options(SCHEDULES, "temperature_schedule", run.temperature_schedule.model_dump())
    problems = [*approach.check(run), *schedule.check(run)]
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return run, approach, schedule


def _options(registry, key: str, data: dict[str, Any]):
    name = data.pop("name")
    try:
        cls = registry.get(name)
    except KeyError as err:
        raise ConfigError(f"{key}.name: {err.args[0]}") from None
    try:
        return cls.Options.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, prefix=f"{key}.")) from None


def _format(err: ValidationError, prefix: str = "") -> str:
    lines = []
    for e in err.errors():
        key = prefix + ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif "input" in e and e["type"] != "missing" and not isinstance(e["input"], dict):
            secret = any(m in key.lower() for m in ("api_key", "token", "secret", "password"))
            msg += " (value hidden)" if secret else f" (got {e['input']!r})"
        lines.append(f"{key or '(root)'}: {msg}")
    return "invalid config:\n  " + "\n  ".join(lines)


def compose(*overrides: str) -> Any:
    """Compose ``conf/config.yaml`` exactly as run.py does (for scripts and tests)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def _register_resolvers() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("ttscale_root"):
        OmegaConf.register_new_resolver("ttscale_root", lambda: str(ROOT))


_register_resolvers()
