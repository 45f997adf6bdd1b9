"""What a search approach sees: a context of protocols and settings, nothing backend-specific."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ttscale.types import PRM, Generator, Problem, Prompt, SearchResult


class Options(BaseModel):
    """Base of an approach's options; ``check`` adds cross-field rules on the whole run.

    The class attributes say what the approach is, so nothing else keeps a list of names:
    ``needs_prm`` (it ranks with a PRM), ``whole_solution`` (it samples whole solutions, so
    adaptive schedules apply), ``step_search`` (it continues partial solutions).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    needs_prm: ClassVar[bool] = True
    whole_solution: ClassVar[bool] = False
    step_search: ClassVar[bool] = False

    name: str = ""  # the registered name (approach=<name>), set by config.validate

    def check(self, run) -> list[str]:
        """Problems of this approach with the whole run, each naming its key."""
        if self.needs_prm and run.prm.name == "none":
            guided = "is PRM-guided and " if self.step_search else ""
            other = ", or use approach=majority" if self.whole_solution else ""
            return [
                f"prm.name: approach={self.name} {guided}needs a PRM, got none "
                f"(use prm=toy or prm=oracle{other})"
            ]
        return []

    def name_part(self) -> str:
        """Extra run-name fields (beam search adds ``--m-4--iters-40--look-0``)."""
        return ""


@dataclass
class Context:
    """Everything an approach may use. ``prompt(p)`` is the text a completion continues."""

    generator: Generator
    prm: PRM | None
    prompt: Callable[[Problem], Prompt]
    n: int
    temperatures: Callable[[int], list[float]]  # slot j's temperature (schedule.slots)
    top_p: float
    max_tokens: int
    seed: int
    agg_strategy: str
    schedule: Any = None  # the temperature schedule; an adaptive one is sampled per problem


class Approach:
    """A search approach: ``search`` advances all problems of a shard together."""

    Options: type[Options] = Options

    def __init__(self, options: Options) -> None:
        self.options = options

    @classmethod
    def from_config(cls, options: Options) -> Approach:
        """Built from its validated options (``run.approach``), as every seam is."""
        return cls(options)

    def search(self, problems: list[Problem], ctx: Context) -> list[SearchResult]:
        raise NotImplementedError
