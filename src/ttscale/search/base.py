"""What a search approach sees: a context of protocols and settings, nothing backend-specific."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ttscale.types import PRM, Generator, Problem, SearchResult


class Options(BaseModel):
    """Base of an approach's options; ``check`` adds cross-field rules on the whole run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    needs_prm: bool = True

    def check(self, run) -> list[str]:
        return []

    def name_part(self) -> str:
        """Extra run-name fields (beam search adds ``--m-4--iters-40--look-0``)."""
        return ""


@dataclass
class Context:
    """Everything an approach may use. ``prompt(p)`` is the text a completion continues."""

    generator: Generator
    prm: PRM | None
    prompt: Callable[[Problem], str]
    n: int
    temperatures: Callable[[int], list[float]]
    top_p: float
    max_tokens: int
    seed: int
    agg_strategy: str


class Approach:
    """A search approach: ``search`` advances all problems of a shard together."""

    Options: type[Options] = Options

    def __init__(self, options: Options) -> None:
        self.options = options

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        raise NotImplementedError
