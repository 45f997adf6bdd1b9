"""The hf backend's KV cache layer: keys and values written in place, grown in steps."""

from __future__ import annotations

import torch
from transformers.cache_utils import DynamicLayer


class GrowingLayer(DynamicLayer):
    """One layer's keys and values in a buffer with room to grow.

    transformers' DynamicLayer concatenates each new token onto the whole cache, a copy of the
    cache per step (quadratic in the completion's length). Here a step writes in place and the
    buffer grows when full, up to ``capacity``; attention sees a view of the filled part, so
    its inputs are the same as with DynamicLayer.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.length + key_states.shape[-2]
        if self._k is None or self._v is None or end > self._k.shape[-2]:
            self.device, self.is_initialized = key_states.device, True
            self._k = self._copy(self._k, None, key_states, end)
            self._v = self._copy(self._v, None, value_states, end)
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self._k[:, :, :end], self._v[:, :, :end]
        return self.keys, self.values

    def _copy(self, buf, rows: torch.Tensor | None, like: torch.Tensor, end: int) -> torch.Tensor:
        """A new buffer with room past ``end``, holding the filled part of ``buf`` (``rows`` of it).

        Room grows with the length (amortised constant per token) but stays a fraction of it:
        a step search generates a short step after a long prefix, and every copy moves it all.
        """
        size = max(end, min(self.capacity, end + max(32, end // 2)))
        n = len(rows) if rows is not None else like.shape[0]
        out = like.new_empty((n, like.shape[1], size, like.shape[-1]))
        if buf is not None and self.length:
            old = buf[:, :, : self.length]
            out[:, :, : self.length] = old if rows is None else old[rows]
        return out

    def get_seq_length(self) -> int:
        return self.length

    def keep_first(self, n: int, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Keep rows [0, n), after copying rows ``src`` (kept rows past n) into rows ``dst``
        (dropped rows before n): only the moved rows are copied, and the buffer stays."""
        if self._k is None or self._v is None:
            return
        for buf in (self._k, self._v):
            if len(dst):
                buf[dst, :, : self.length] = buf[src, :, : self.length]
        self._k, self._v = self._k[:n], self._v[:n]
        self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self._k is not None and self._v is not None:
            self._k = self._copy(self._k, indices, self._k, self.length)
            self._v = self._copy(self._v, indices, self._v, self.length)
            self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]


def drop_rows(cache, keep: list[int], device: torch.device) -> list[int]:
    """Drop every row of ``cache`` but ``keep`` (ascending); returns the new row order: row r
    of the cache now holds old row ``order[r]``.

    Kept rows past the new end fill the dropped rows' places before it, so a
    :class:`GrowingLayer` copies only those rows. batch_select_indices would copy every kept
    row. Any other cache layer gets the same order through batch_select_indices.
    """
    n, kept = len(keep), set(keep)
    holes = [r for r in range(n) if r not in kept]
    movers = [r for r in keep if r >= n]
    order = list(range(n))
    for hole, mover in zip(holes, movers):
        order[hole] = mover
    if all(isinstance(layer, GrowingLayer) for layer in cache.layers):
        dst = torch.tensor(holes, dtype=torch.long, device=device)
        src = torch.tensor(movers, dtype=torch.long, device=device)
        for layer in cache.layers:
            layer.keep_first(n, dst, src)
    else:
        cache.batch_select_indices(torch.tensor(order, device=device))
    return order
