"""The hf backend's per-token draws: inverse-CDF sampling with one seeded uniform per row,
stop strings, and DeepConf's sliding confidence window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class Window:
    """The mean token confidence over the last ``size`` tokens, kept as a running sum."""

    def __init__(self, size: int) -> None:
        self.size, self.values, self.sum = size, [], 0.0

    def add(self, value: float) -> None:
        self.values.append(value)
        self.sum += value
        if len(self.values) > self.size:
            self.sum -= self.values[-self.size - 1]

    def below(self, threshold: float | None) -> bool:
        full = len(self.values) >= self.size
        return threshold is not None and full and self.sum / self.size < threshold


def uniforms(batch: Sequence[Any], steps: int) -> torch.Tensor:
    """Each sample's uniforms from its own seeded stream: draw t is used at step t."""
    return torch.stack(
        [torch.rand(steps, generator=torch.Generator().manual_seed(s.seed)) for s in batch]
    )


def stop_cut(text: str, stops: Sequence[str]) -> int | None:
    """End of the earliest stop string in text (the stop string is kept), or None."""
    ends = [text.find(s) + len(s) for s in stops if s and s in text]
    return min(ends) if ends else None


def sample_tokens(logits: torch.Tensor, temps: torch.Tensor, top_ps: torch.Tensor, u: torch.Tensor):
    """Inverse-CDF sampling with one uniform per row; temperature 0 is argmax."""
    greedy = temps <= 0
    scaled = logits / torch.where(greedy, torch.ones_like(temps), temps)[:, None]
    probs = torch.softmax(scaled, dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True)
    cum = sorted_p.cumsum(-1)
    # Keep the smallest prefix whose mass reaches top_p (always at least one token).
    sorted_p = torch.where(cum - sorted_p < top_ps[:, None], sorted_p, torch.zeros_like(sorted_p))
    cum = sorted_p.cumsum(-1)
    pick = torch.searchsorted(cum, (u * cum[:, -1])[:, None]).clamp(max=logits.shape[-1] - 1)
    tokens = order.gather(-1, pick).squeeze(-1)
    return torch.where(greedy, logits.argmax(-1), tokens)
