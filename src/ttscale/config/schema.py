"""The typed schema of a run's config, checked before anything heavy starts.

Hydra composes YAML from ``conf/``; :func:`validate` turns it into :class:`RunConfig` or
raises :class:`ConfigError` with every problem named by its dotted key, e.g.
``top_p: must be in (0, 1], got 1.5``. Config objects do no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ttscale.paths import ROOT  # noqa: E402,F401  (conf/ lives there)
from ttscale.prm.aggregate import STRATEGIES

# Sane bounds: past them a typo is likelier than intent (n=100000000 would hold that many
# completions per problem in memory). force_limits=true accepts them.
MAX_N = 16384
MAX_TOKENS = 262144
MAX_TEMPERATURE = 4.0
MAX_SEED = 2**63  # seeds feed numpy's and torch's generators, which take 64-bit values


def limit_problems(run: RunConfig, temperatures: Sequence[float]) -> list[str]:
    """The sane bounds a run exceeds, each naming its key and why (empty with force_limits)."""
    if run.force_limits:
        return []
    why = "set force_limits=true if you mean it"
    out = []
    if run.n > MAX_N:
        out.append(f"n: {run.n} is past {MAX_N} completions per problem, all held in memory; {why}")
    if run.max_tokens > MAX_TOKENS:
        out.append(
            f"max_tokens: {run.max_tokens} is past {MAX_TOKENS} tokens, longer than any model's context; {why}"
        )
    hot = sorted({t for t in temperatures if t > MAX_TEMPERATURE})
    if hot:
        out.append(
            f"temperature: {', '.join(f'{t:g}' for t in hot)} is past {MAX_TEMPERATURE:g}, "
            f"where sampling is close to uniform noise; {why}"
        )
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    name: str = Field(min_length=1, max_length=128)  # a folder name in every results path
    path: str
    backend: Literal["hf", "vllm", "openai"] = "hf"
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = Field(64, ge=1)
    system_prompt: str | None = None
    # Extra chat-template variables, e.g. Qwen3's {enable_thinking: false}.
    chat_template_kwargs: dict[str, Any] = {}
    trust_remote_code: bool = False
    # backend=vllm (ttscale.backends.vllm); gpu_memory_utilization is shared with the PRM.
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    tensor_parallel_size: int = Field(1, ge=1)
    # vLLM's engine prefix caching; the hf backend's own (ttscale.prefix_cache), capped at
    # prefix_cache_mb MiB of keys and values. Either way the same completions.
    enable_prefix_caching: bool = True
    prefix_cache_mb: int = Field(1024, ge=0)
    max_model_len: int | None = Field(None, ge=1)
    # backend=openai (ttscale.backends.openai): a server at base_url, or one we start (serve).
    base_url: str | None = None
    api_key: str | None = None  # else OPENAI_API_KEY; redacted everywhere
    serve: bool = False  # start `transformers serve` for path on localhost, stop it after
    endpoint: Literal["completions", "chat"] = "completions"
    served_name: str | None = None  # the requests' "model" field (default: path)
    tokenizer: str | None = None  # chat template + token counts (default: path)
    concurrency: int = Field(8, ge=1)
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    retry_backoff: float = Field(0.5, ge=0)
    fail_after: float = Field(300.0, gt=0)  # seconds a server may keep failing, all requests
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _server(self) -> ModelConfig:
        if self.backend != "openai":
            return self
        if self.serve == bool(self.base_url):
            raise ValueError("backend=openai needs exactly one of model.base_url, model.serve=true")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("model.base_url must start with http:// or https://")
        return self


class PRMConfig(_Strict):
    """``name`` is the family (ttscale.prm.OPTIONS); null keys take the family's default."""

    name: str
    path: str | None = None
    batch_size: int = Field(32, ge=1)
    device: str = "auto"
    dtype: str = "auto"
    step_tag: str | None = None
    good_token: str | None = None
    bad_token: str | None = None
    step_separator: str | None = None  # token_classification: TRL's separator (default "\n")
    token_ids: dict[str, int] | None = None  # pins, e.g. {step_tag: 12902}
    system_prompt: str | None = None
    # reference: the model card's input; sal: byte for byte what search-and-learn feeds
    input_format: Literal["reference", "sal"] = "reference"
    noise: float | None = Field(None, ge=0)
    gpu_memory_utilization: float = Field(0.0, ge=0, le=1)
    # MiB of keys and values kept across calls, so the next step's input computes only its
    # new tokens (ttscale.prefix_cache); 0: read every input whole. Scores are the same.
    prefix_cache_mb: int = Field(1024, ge=0)

    @model_validator(mode="after")
    def _family(self) -> PRMConfig:
        from ttscale.prm import check_options

        problems = check_options(self.name, self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self


# The scorer.* keys each scorer reads (besides name); ttscale.scorers documents them.
SCORER_OPTIONS: dict[str, tuple[str, ...]] = {
    "prm": (),
    "none": (),
    "mean_logprob": ("keep",),
    "self_certainty": ("top_k", "keep"),
    "deepconf": ("top_k", "measure", "window", "bottom", "tail", "keep"),
}


class ScorerConfig(_Strict):
    """What ranks, weights or prunes: ``prm`` (the ``prm=`` group), a confidence, or none."""

    name: str = "prm"
    top_k: int | None = Field(None, ge=1, le=1000)  # top log-probs per token (servers: <= 20)
    measure: Literal["mean", "lowest_group", "bottom", "tail"] | None = None
    window: int | None = Field(None, ge=1)  # tokens per sliding group
    bottom: float | None = Field(None, gt=0, le=1)  # share of the lowest groups averaged
    tail: int | None = Field(None, ge=1)  # last tokens averaged by measure=tail
    keep: float | None = Field(None, gt=0, le=1)  # majority: vote over this top share only

    @model_validator(mode="after")
    def _keys(self) -> ScorerConfig:
        if self.name not in SCORER_OPTIONS:
            valid = ", ".join(SCORER_OPTIONS)
            raise ValueError(f"unknown scorer {self.name!r}; valid: {valid}")
        reads = SCORER_OPTIONS[self.name]
        unused = [k for k, v in self.model_dump().items()
                  if k != "name" and v is not None and k not in reads]  # fmt: skip
        if unused:
            raise ValueError(
                f"not read by scorer={self.name}: {', '.join(unused)}"
                + (f" (it reads: {', '.join(reads)})" if reads else "")
            )
        return self


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
        if self.end is not None and self.num_samples is not None:
            rows = self.end - (self.start or 0)
            if self.num_samples < rows:
                raise ValueError(
                    f"dataset.num_samples={self.num_samples} would cut dataset.start..end "
                    f"({rows} rows) to {self.num_samples}: give one of them "
                    "(dataset.num_samples=null to run start..end)"
                )
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
    """``local``: parquet under results_dir. ``hub``: a Hub dataset (results_dir stages files).

    The Hub token is read from the environment (``HF_TOKEN``), never from config.
    """

    name: Literal["local", "hub"] = "local"
    results_dir: str
    repo_id: str | None = Field(None, validate_default=True)
    private: bool = True
    revision: str = "main"  # where the merge pushes the merged configs and the card
    max_retries: int = Field(6, ge=0)  # per Hub call, on 409/412/429/5xx

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("name") == "hub":
            raise ValueError("required when storage.name=hub")
        # The Hub's rules (huggingface_hub.utils.validate_repo_id), checked here so a typo
        # fails at validation, not after a shard has run.
        ok = v is None or (
            re.fullmatch(r"([\w.-]+/)?[\w.-]+", v) is not None
            and len(v) <= 96
            and "--" not in v
            and ".." not in v
            and not v.endswith(".git")
            and not any(p.startswith(("-", ".")) or p.endswith(("-", ".")) for p in v.split("/"))
        )
        if not ok:
            raise ValueError(
                "must be a Hub repo id 'owner/name' (letters, digits, '-', '_', '.'; "
                "no '--' or '..'; at most 96 characters)"
            )
        return v


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
    """An approach as composed: its name picks the schema (search/) that checks the rest."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class ScheduleConfig(BaseModel):
    """A schedule as composed: its name picks the schema (temperatures.py)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


def _tagged(kind: type[BaseModel]):
    """Composed data -> ``kind``; a typed option object (after validate) passes through."""

    def check(v: Any) -> Any:
        return v if isinstance(v, BaseModel) else kind.model_validate(v)

    return check


class RunConfig(_Strict):
    model: ModelConfig
    prm: PRMConfig
    scorer: ScorerConfig = ScorerConfig()
    # Discriminated by name. validate() replaces each with its registered typed options
    # (search.base.Options / temperatures.Schedule), which is what everything downstream reads.
    approach: Annotated[Any, BeforeValidator(_tagged(ApproachConfig))]
    temperature_schedule: Annotated[Any, BeforeValidator(_tagged(ScheduleConfig))]
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
    seed: int = Field(0, ge=0, lt=MAX_SEED)
    agg_strategy: str = "last"
    force_limits: bool = False  # accept n, max_tokens, temperatures past the sane bounds
    progress: bool = True
    overwrite: bool = False
    threads: int | None = Field(None, ge=1)
    checkpoint_every: int | None = Field(None, ge=1)

    @property
    def scorer_name(self) -> str:
        """What this run ranks with: ``prm``, a confidence scorer's name, or ``none``.

        ``scorer=prm`` (the default) is the ``prm=`` group: none with ``prm=none``. Approaches
        that only *take* a scorer (majority) use a confidence scorer but not a PRM: PRM-weighted
        votes are best-of-N's ``weighted@n``. Approaches that take none use none.
        """
        takes = getattr(self.approach, "takes_scorer", True)
        needs = getattr(self.approach, "needs_scorer", True)
        if self.scorer.name == "prm":
            return "prm" if needs and self.prm.name != "none" else "none"
        return self.scorer.name if takes else "none"

    @property
    def vote_keep(self) -> float | None:
        """The confidence scorer's ``keep`` (the ``filtered@n`` vote), None without one."""
        return self.scorer.keep if self.scorer_name not in ("prm", "none") else None

    @property
    def uses_prm(self) -> bool:
        """Whether this run reads a PRM."""
        return self.scorer_name == "prm"

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


def _register_resolvers() -> None:
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("ttscale_root"):
        OmegaConf.register_new_resolver("ttscale_root", lambda: str(ROOT))


_register_resolvers()
