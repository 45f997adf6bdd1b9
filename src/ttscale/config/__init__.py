"""A run's config: the typed schema, its one validation, hints, and the pre-flight checks.

``validate(cfg)`` is the only entry: it returns one :class:`RunConfig` whose ``approach`` and
``temperature_schedule`` are the registered typed options. Nothing here imports Hydra.
"""

from ttscale.config.schema import (
    DatasetConfig,
    ModelConfig,
    PRMConfig,
    RunConfig,
    ScorerConfig,
    ShardConfig,
    StorageConfig,
)
from ttscale.config.validate import ignored_overrides, known_keys, validate
from ttscale.errors import ConfigError

__all__ = [
    "ConfigError",
    "DatasetConfig",
    "ModelConfig",
    "PRMConfig",
    "RunConfig",
    "ScorerConfig",
    "ShardConfig",
    "StorageConfig",
    "ignored_overrides",
    "known_keys",
    "validate",
]
