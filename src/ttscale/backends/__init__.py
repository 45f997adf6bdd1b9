"""Generator backends behind one protocol, imported lazily (``model.backend=hf|vllm|openai``)."""

from __future__ import annotations

from ttscale.registry import Registry
from ttscale.types import Generator

BACKENDS: Registry[Generator] = Registry("model.backend")
BACKENDS.add("hf", "ttscale.backends.hf:HFGenerator")


def build_generator(model, *, seed: int, progress: bool = True) -> Generator:
    """Build the generator that ``model`` (a :class:`ttscale.config.ModelConfig`) names."""
    cls = BACKENDS.get(model.backend)
    if model.backend == "hf":
        return cls(
            model.path,
            device=model.device,
            dtype=model.dtype,
            batch_size=model.batch_size,
            seed=seed,
            progress=progress,
            trust_remote_code=model.trust_remote_code,
        )
    return cls(model, seed=seed, progress=progress)
