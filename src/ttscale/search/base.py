"""What a search approach sees: a context of protocols and settings, nothing backend-specific."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ttscale.scorers import Scorer
from ttscale.types import Generator, Problem, Prompt, SearchResult


class Options(BaseModel):
    """Base of an approach's options; ``check`` adds cross-field rules on the whole run.

    The class attributes say what the approach is, so nothing else keeps a list of names:
    ``needs_scorer`` (it ranks, so it needs a scorer: a PRM or a confidence), ``takes_scorer``
    (it can use one), ``whole_solution`` (it samples whole solutions, so adaptive schedules
    apply), ``step_search`` (it continues partial solutions), ``pick`` (how its answer is
    chosen when scored: ``naive``, the best score; ``filtered``, DeepConf's vote).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    needs_scorer: ClassVar[bool] = True
    takes_scorer: ClassVar[bool] = True
    whole_solution: ClassVar[bool] = False
    step_search: ClassVar[bool] = False
    pick: ClassVar[str] = "naive"  # its answer once scored: the best score (or "filtered")

    name: str = ""  # the registered name (approach=<name>), set by config.validate

    def check(self, run) -> list[str]:
        """Problems of this approach with the whole run, each naming its key."""
        scorer = run.scorer.name
        if not self.takes_scorer and scorer not in ("prm", "none"):
            return [f"scorer: approach={self.name} takes no scorer, got scorer={scorer}"]
        if self.needs_scorer and run.scorer_name == "none":
            guided = "is guided by a scorer and " if self.step_search else ""
            other = ", or use approach=majority" if self.whole_solution else ""
            return [
                f"prm.name: approach={self.name} {guided}needs a scorer, got none (use "
                f"prm=toy, prm=oracle or scorer=mean_logprob|self_certainty|deepconf{other})"
            ]
        if run.scorer_name not in ("prm", "none") and run.agg_strategy == "prod":
            return [
                f"agg_strategy: prod multiplies step-correctness probabilities; "
                f"scorer={scorer} scores a trace's confidence: use last, min or mean"
            ]
        return []

    def name_part(self) -> str:
        """Extra run-name fields (beam search adds ``--m-4--iters-40--look-0``)."""
        return ""


@dataclass
class Context:
    """Everything an approach may use. ``prompt(p)`` is the text a completion continues."""

    generator: Generator
    scorer: Scorer | None
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
