"""The typed config of ``learn.py`` (conf/learn/): checked before any model loads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ttscale.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    source: Literal["toy", "rollouts"]
    policy: str | None = None  # toy: the policy folder
    run: list[str] = []  # rollouts: run.py overrides naming the policy and the problems
    problems: int = Field(3000, ge=1)  # toy: training problems
    samples: int = Field(4, ge=1)
    temperatures: list[float] = [0.8]
    max_tokens: int = Field(256, ge=1)
    k: int = Field(8, ge=1)  # rollouts per step prefix
    rollout_temperature: float = Field(0.8, ge=0)
    synthetic: int = Field(0, ge=0)
    twins: bool = False  # toy: each wrong sample's corrected twin (same prefix, right step)
    held_out: int = Field(100, ge=0)

    @model_validator(mode="after")
    def _source(self) -> DataConfig:
        if self.source == "toy" and not self.policy:
            raise ValueError("data.policy is required for data=toy")
        if self.source == "rollouts" and not self.run:
            raise ValueError("data.run: give the run.py overrides of the policy and problems")
        return self


class FormatConfig(_Strict):
    name: Literal["math_shepherd", "token_classification", "likelihood"]
    step_tag: str = "ки"
    good_token: str = "+"
    bad_token: str = "-"
    separator: str = "\n"


class BaseConfig(_Strict):
    name: str
    path: str | None = None
    scratch_from: str | None = None  # fresh weights of this folder's shape

    @model_validator(mode="after")
    def _one(self) -> BaseConfig:
        if bool(self.path) == bool(self.scratch_from):
            raise ValueError("base: give exactly one of base.path, base.scratch_from")
        return self


class TrainSettings(_Strict):
    steps: int = Field(2000, ge=0)  # likelihood: LM steps on the good prefixes (0: none)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(5e-4, gt=0)
    warmup: int = Field(100, ge=0)
    weight_decay: float = Field(0.01, ge=0)
    lm_weight: float = Field(0.0, ge=0)
    rank_weight: float = Field(0.0, ge=0)  # within-problem ranking loss (batches of problems)
    labels: Literal["all", "until_error"] = "all"  # until_error: no labels after the first bad step
    add_layers: int = Field(0, ge=0)  # identity-initialised layers stacked on the base
    freeze_base: bool = False  # train only the added layers (and the final norm)
    log_every: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _frozen(self) -> TrainSettings:
        if self.freeze_base and not self.add_layers:
            raise ValueError("train.freeze_base needs train.add_layers > 0: nothing would train")
        return self


class PretrainSettings(_Strict):
    """LM training on exact solutions, in the PRM's input format, before the PRM's training."""

    steps: int = Field(0, ge=0)  # 0: none
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    warmup: int = Field(50, ge=0)


class LearnConfig(_Strict):
    data: DataConfig
    prm_format: FormatConfig
    base: BaseConfig
    train: TrainSettings
    pretrain: PretrainSettings = PretrainSettings()
    out: str
    seed: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=1)
    save_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    progress: bool = True

    @model_validator(mode="after")
    def _pretrain(self) -> LearnConfig:
        if self.pretrain.steps and self.data.source != "toy":
            raise ValueError("pretrain.steps: exact solutions exist in the toy world only "
                             "(start a real PRM from a stronger base instead: base=...)")  # fmt: skip
        name = self.prm_format.name
        if self.pretrain.steps and name == "token_classification":
            raise ValueError("pretrain.steps: LM pretraining needs a format with an LM head "
                             "(prm_format=likelihood or math_shepherd)")  # fmt: skip
        if name != "likelihood" and not self.train.steps:
            raise ValueError(f"train.steps=0: prm_format={name} is a classifier that must be "
                             "trained (e.g. train.steps=400)")  # fmt: skip
        if name == "likelihood" and self.train.rank_weight:
            raise ValueError("train.rank_weight: prm_format=likelihood has no classifier to "
                             "rank with (its train steps are LM steps)")  # fmt: skip
        if self.data.twins and self.data.source != "toy":
            raise ValueError("data.twins: corrected twins need the toy world's exact checker")
        return self


def validate_learn(cfg: Any) -> LearnConfig:
    """A composed ``conf/learn`` config -> :class:`LearnConfig`, or one :class:`ConfigError`."""
    from omegaconf import DictConfig, OmegaConf

    from ttscale.config.validate import _format

    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    data = {k: v for k, v in data.items() if k != "hydra"}
    try:
        return LearnConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, data=data, model=LearnConfig)) from None
