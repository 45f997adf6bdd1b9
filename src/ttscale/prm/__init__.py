"""Process reward models behind one protocol, selected by ``prm.name`` (the family) in config.

Which PRM runs is decided only by ``prm.name``, never by the model path. Each family lists
the ``prm.*`` keys it reads; setting one it ignores is a config error (see
:func:`check_options`), so a key meant for another PRM cannot be silently dropped.
"""

from __future__ import annotations

from typing import Any

from ttscale.registry import Registry
from ttscale.types import PRM

PRMS: Registry[PRM] = Registry("prm")
PRMS.add("math_shepherd", "ttscale.prm.math_shepherd:MathShepherdPRM")
PRMS.add("rlhflow", "ttscale.prm.rlhflow:RLHFlowPRM")
PRMS.add("skywork", "ttscale.prm.skywork:SkyworkPRM")
PRMS.add("qwen_math_prm", "ttscale.prm.qwen_math:QwenMathPRM")
PRMS.add("token_classification", "ttscale.prm.token_classification:TokenClassificationPRM")
PRMS.add("likelihood", "ttscale.prm.likelihood:LikelihoodPRM")
PRMS.add("oracle", "ttscale.prm.oracle:OraclePRM")

_MODEL_KEYS = ("path", "batch_size", "device", "dtype", "token_ids", "input_format",
               "prefix_cache_mb")  # fmt: skip
# The prm.* keys each family reads (besides name); path is required where listed.
OPTIONS: dict[str, tuple[str, ...]] = {
    "math_shepherd": (*_MODEL_KEYS, "step_tag", "good_token", "bad_token", "system_prompt"),
    "rlhflow": (*_MODEL_KEYS, "good_token", "bad_token"),
    "skywork": (*_MODEL_KEYS, "step_tag"),
    "qwen_math_prm": (*_MODEL_KEYS, "step_tag", "system_prompt"),
    "token_classification": (*_MODEL_KEYS, "step_separator"),
    "likelihood": (*_MODEL_KEYS, "step_tag"),
    "oracle": ("noise",),
}
# Keys that have a value whatever the family (schema defaults), so never "unused".
_ALWAYS = ("name", "batch_size", "device", "dtype", "gpu_memory_utilization", "input_format",
           "prefix_cache_mb")  # fmt: skip


def check_options(name: str, values: dict[str, Any]) -> list[str]:
    """Problems with a PRM config (``values`` are the prm.* keys), each naming its key."""
    if name == "none":
        return []
    if name not in PRMS:
        return [f"prm.name: unknown prm {name!r}; valid: none, {', '.join(PRMS.names())}"]
    keys = OPTIONS[name]
    problems = [
        f"prm.{k}: not used by prm.name={name}; it reads: {', '.join(keys)}"
        for k, v in values.items()
        if v is not None and k not in keys and k not in _ALWAYS
    ]
    if "path" in keys and not values.get("path"):
        problems.append(f"prm.path: required for prm.name={name}")
    return problems


def prm_kwargs(cfg: Any, *, seed: int = 0) -> dict[str, Any]:
    """The constructor arguments of the family ``cfg.name`` from a validated ``PRMConfig``."""
    kwargs = {k: getattr(cfg, k) for k in OPTIONS[cfg.name] if getattr(cfg, k) is not None}
    if "path" in kwargs:
        kwargs["model_path"] = kwargs.pop("path")
    if cfg.name == "oracle":
        kwargs["seed"] = seed
    return kwargs


class FromConfig:
    """``from_config`` for every PRM family: the keys its :data:`OPTIONS` entry lists."""

    @classmethod
    def from_config(cls, cfg: Any, *, seed: int = 0) -> Any:
        return cls(**prm_kwargs(cfg, seed=seed))


def build_prm(cfg: Any, *, seed: int = 0) -> PRM | None:
    """Build the PRM that a validated ``PRMConfig`` describes; ``none`` gives no PRM."""
    if cfg.name == "none":
        return None
    return PRMS.from_config(cfg.name, cfg, seed=seed)


def prm_steps(prm: Any, text: str) -> list[str]:
    """The steps of ``text`` that ``prm`` scores (its input format's), one score each."""
    from ttscale.prompts import split_steps

    steps_of = getattr(prm, "steps_of", None)
    return steps_of(text) if steps_of is not None else split_steps(text)


def check_prm(cfg: Any) -> None:
    """Run the family's tokenizer checks without loading weights (a no-op for the oracle).

    Raises:
        ValueError: naming the ``prm.*`` key (a step tag or label token the tokenizer lacks).
        OSError: the tokenizer cannot be loaded from ``prm.path``.
    """
    if cfg.name == "none":
        return
    cls = PRMS.get(cfg.name)
    if hasattr(cls, "check"):
        cls.check(**prm_kwargs(cfg))
