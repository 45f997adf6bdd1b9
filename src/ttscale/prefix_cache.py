"""Keys and values of token prefixes a model has read, kept across calls (a radix tree).

A step search sends its models the same prefixes again and again: every iteration re-reads
the question and all earlier steps, and the PRM re-reads them to score one new step. This
cache keeps the keys and values of every sequence read (and, for a PRM, its output at every
position), in a radix tree over token ids as SGLang's RadixAttention does, so a later call
computes only the tokens past its longest cached prefix. The results are those of a full
forward pass: in a causal model, a position's keys, values and output depend only on the
tokens up to it. Memory is capped in bytes; the least recently used leaves go first.

:func:`batch_past` lays the prefixes of a batch out for one forward pass: row ``r``'s prefix
in columns ``[0, hit)``, masked holes up to the longest prefix, then its new tokens, whose
positions continue from its own prefix.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values [heads, tokens, dim]


@dataclass(eq=False)
class _Node:
    ids: tuple[int, ...]  # this node's own segment of tokens
    kv: KV
    values: torch.Tensor | None  # the model's output at each position of the segment
    parent: _Node | None
    children: dict[int, _Node] = field(default_factory=dict)
    used: int = 0
    end: bool = False  # a sequence read whole ends with this node

    @property
    def nbytes(self) -> int:
        size = sum(k.nbytes + v.nbytes for k, v in self.kv)
        return size + (self.values.nbytes if self.values is not None else 0)


@dataclass(frozen=True)
class Hit:
    """The longest cached prefix of a sequence: ``length`` tokens.

    ``pieces``: per tree node on the path, its keys and values per layer, its outputs, and how
    many of its tokens the hit takes. They are the node's tensors at match time: a later
    insert that splits the node gives it new ones and leaves these as they were, so it
    cannot change what a hit holds. Slicing waits until the tensors are used: most matches
    only want the length.
    """

    length: int
    pieces: tuple[tuple[KV, torch.Tensor | None, int], ...] = ()


class PrefixCache:
    """Keys and values (and per-position outputs) of token sequences, capped at ``max_bytes``.

    ``hit_tokens`` / ``computed_tokens`` count what callers report through :meth:`count`.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"prefix cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._root = _Node((), [], None, None)
        self._tick = 0

    def match(self, ids: Sequence[int], limit: int | None = None) -> Hit:
        """The longest cached sequence that ``ids`` starts with, cut to ``limit`` tokens
        (touched: recently used).

        Only whole sequences read before count, never a part two of them happen to share:
        a search's inputs then hit only their own problem's earlier inputs, so what a row
        computes, and its floats, do not depend on which problems share its shard or batch.
        """
        self._tick += 1
        node, i, nodes, best = self._root, 0, [], (0, 0)
        while i < len(ids):
            child = node.children.get(ids[i])
            if child is None or common_length(child.ids, ids, i) < len(child.ids):
                break
            i += len(child.ids)
            nodes.append(child)
            if child.end:
                best = (i, len(nodes))
            node = child
        length = best[0] if limit is None else min(best[0], limit)
        pieces, start = [], 0
        for child in nodes[: best[1]]:
            if start >= length:
                break
            n = min(len(child.ids), length - start)
            child.used = self._tick
            pieces.append((child.kv, child.values, n))
            start += n
        return Hit(length, tuple(pieces))

    def kv(self, hit: Hit) -> KV:
        """Per layer, the keys and values of the hit's tokens, [heads, hit.length, dim]."""
        layers = len(hit.pieces[0][0])
        return [
            tuple(  # type: ignore[misc]
                torch.cat([kv[layer][j][:, :n] for kv, _, n in hit.pieces], dim=1) for j in (0, 1)
            )
            for layer in range(layers)
        ]

    def values(self, hit: Hit) -> torch.Tensor:
        """The stored outputs at the hit's positions (callers that store them only)."""
        return torch.cat([values[:n] for _, values, n in hit.pieces])  # type: ignore[index]

    def insert(
        self,
        ids: Sequence[int],
        kv: KV,
        values: torch.Tensor | None = None,
        *,
        offset: int = 0,
    ) -> None:
        """Keep ``ids``' keys and values ([heads, tokens, dim] per layer, for ``ids[offset:]``;
        the first ``offset`` tokens must be cached already, else nothing is kept). Only the
        part past what is already cached is copied. Then trim to the cap."""
        if self.max_bytes == 0 or len(ids) <= offset:
            return
        self._tick += 1
        node, i = self._root, 0
        while i < len(ids):
            child = node.children.get(ids[i])
            if child is None:
                if i < offset:  # the prefix was dropped meanwhile: these keys lack a past
                    break
                leaf = _Node(
                    tuple(ids[i:]),
                    [(k[:, i - offset :].clone(), v[:, i - offset :].clone()) for k, v in kv],
                    None if values is None else values[i - offset :].clone(),
                    node,
                    used=self._tick,
                    end=True,
                )
                node.children[ids[i]] = leaf
                self.bytes += leaf.nbytes
                break
            n = common_length(child.ids, ids, i)
            if n < len(child.ids):
                child = self._split(child, n)
            child.used = self._tick
            node, i = child, i + n
            if i == len(ids):
                child.end = True
        self._trim()

    def clear(self) -> None:
        self._root.children.clear()
        self.bytes = 0

    def _split(self, node: _Node, n: int) -> _Node:
        """Cut ``node`` after its first ``n`` tokens; return the new first part (its parent)."""
        head = _Node(
            node.ids[:n],
            [(k[:, :n].clone(), v[:, :n].clone()) for k, v in node.kv],
            None if node.values is None else node.values[:n].clone(),
            node.parent,
            used=node.used,
        )
        before = node.nbytes
        node.ids = node.ids[n:]
        node.kv = [(k[:, n:].clone(), v[:, n:].clone()) for k, v in node.kv]
        node.values = None if node.values is None else node.values[n:].clone()
        self.bytes += head.nbytes + node.nbytes - before
        assert node.parent is not None
        node.parent.children[head.ids[0]] = head
        head.children[node.ids[0]] = node
        node.parent = head
        return head

    def _trim(self) -> None:
        """Drop least recently used leaves until the cache fits its cap."""
        while self.bytes > self.max_bytes:
            leaves = sorted(self._leaves(), key=lambda x: x.used)
            if not leaves:
                break
            for leaf in leaves:
                if self.bytes <= self.max_bytes:
                    return
                assert leaf.parent is not None
                del leaf.parent.children[leaf.ids[0]]
                self.bytes -= leaf.nbytes

    def _leaves(self) -> list[_Node]:
        out, stack = [], list(self._root.children.values())
        while stack:
            node = stack.pop()
            if node.children:
                stack.extend(node.children.values())
            else:
                out.append(node)
        return out


def past_keyword(model: Any) -> str:
    """The forward argument that takes the keys and values of earlier tokens.

    transformers 5 renamed ``past_key_values`` to ``cache``; the old name still works there,
    with a deprecation warning, until it goes. Models of older releases and remote code keep
    the old name. A head that hands ``**kwargs`` on to its base model (ttscale's Qwen and
    Skywork PRM heads) takes that model's name.
    """
    params = inspect.signature(model.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in params:
            return name
    inner = getattr(model, "model", None)
    if isinstance(inner, torch.nn.Module) and inner is not model:
        return past_keyword(inner)
    return "past_key_values"


def common_length(a: Sequence[int], b: Sequence[int], start: int = 0) -> int:
    """How many tokens of ``a`` equal ``b[start:]`` from the start."""
    n = min(len(a), len(b) - start)
    for j in range(n):
        if a[j] != b[start + j]:
            return j
    return max(n, 0)


@dataclass
class Layout:
    """A batch of (cached prefix, new tokens) rows laid out for one forward pass.

    ``past``: per layer, keys and values [batch, heads, width, dim] (zeros in the holes);
    ``mask``: [batch, width + new] (1: a real token); ``positions``: [batch, new], each row
    continuing from its own prefix; ``hits``: each row's prefix length; ``width``: the
    longest prefix. New tokens are right-aligned (``left``) or left-aligned in their block.
    """

    past: KV
    mask: torch.Tensor
    positions: torch.Tensor
    ids: torch.Tensor
    hits: list[int]
    width: int


def batch_past(
    hits: Sequence[Hit],
    new: Sequence[Sequence[int]],
    *,
    pad_id: int,
    left: bool,
    device: torch.device,
    extra: int = 0,
) -> Layout:
    """Lay out rows (a cache hit plus new token ids) for a forward pass with a past.

    ``extra`` columns are added to the mask (zeros) for tokens a decode appends later.
    """
    width = max(h.length for h in hits)
    span = max(len(n) for n in new)
    B = len(hits)
    mask = torch.zeros((B, width + span + extra), dtype=torch.long)
    ids = torch.full((B, span), pad_id, dtype=torch.long)
    positions = torch.zeros((B, span), dtype=torch.long)
    for r, (h, n) in enumerate(zip(hits, new)):
        mask[r, : h.length] = 1
        lo = span - len(n) if left else 0
        mask[r, width + lo : width + lo + len(n)] = 1
        ids[r, lo : lo + len(n)] = torch.tensor(list(n), dtype=torch.long)
        positions[r, lo : lo + len(n)] = torch.arange(h.length, h.length + len(n))
    past: KV = []
    found = [r for r, h in enumerate(hits) if h.length]
    if width:
        for k0, v0 in hits[found[0]].pieces[0][0]:  # per layer: dtype, heads, head size
            past.append((k0.new_zeros((B, k0.shape[0], width, k0.shape[-1])),
                         v0.new_zeros((B, v0.shape[0], width, v0.shape[-1]))))  # fmt: skip
        # Each piece goes straight into place, once for all the rows that share it (a beam's
        # children, a question's samples): no per-row concatenation first.
        rows_of: dict[tuple[int, int, int], tuple[KV, list[int]]] = {}
        for r in found:
            start = 0
            for kv, _, n in hits[r].pieces:
                rows_of.setdefault((id(kv), start, n), (kv, []))[1].append(r)
                start += n
        for (_, start, n), (kv, rows) in rows_of.items():
            at = rows[0] if len(rows) == 1 else torch.tensor(rows, device=past[0][0].device)
            for (keys, vals), (k, v) in zip(past, kv):
                keys[at, :, start : start + n] = k[:, :n]
                vals[at, :, start : start + n] = v[:, :n]
    return Layout(past, mask.to(device), positions.to(device), ids.to(device),
                  [h.length for h in hits], width)  # fmt: skip
