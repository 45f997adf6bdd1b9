"""Render one problem's search tree (the ``tree`` column) as indented text.

    >>> print(render_tree(row["tree"]))        # a list of node dicts, or its JSON string
    * [0] T=0.8 s=0.97 "7*3=21, so 12+21-45"
    | * [3] T=0.8 s=0.91 "12+21=33, so 33-45"
    | x [4] T=0.8 s=0.12 "12+21=34, so 34-45"

``*`` marks a kept node (followed, or on an output completion's path), ``x`` a pruned one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def node_record(
    id: int,
    text: str,
    temperature: float,
    tokens: int,
    finish: str,
    *,
    parent: int | None = None,
    score: float | None = None,
    agg_score: float | None = None,
    kept: bool = True,
    lookahead_tokens: int = 0,
    done: bool = True,
) -> dict[str, Any]:
    """One row of the output's ``tree`` column: the one layout every approach writes."""
    return {
        "id": id,
        "parent": parent,
        "text": text,
        "score": score,
        "agg_score": agg_score,
        "temperature": temperature,
        "kept": kept,
        "tokens": tokens,
        "lookahead_tokens": lookahead_tokens,
        "finish": finish,
        "done": done,
    }


def render_tree(nodes: Sequence[dict[str, Any]] | str, *, width: int = 80) -> str:
    """Indented text of a tree's nodes, children under their parent in id order.

    Args:
        nodes: node dicts with id, parent, text, score, temperature and kept (or JSON).
        width: step texts longer than this are cut with an ellipsis.
    """
    if isinstance(nodes, str):
        nodes = json.loads(nodes)
    children: dict[Any, list[dict[str, Any]]] = {}
    for node in sorted(nodes, key=lambda n: n["id"]):
        children.setdefault(node.get("parent"), []).append(node)
    lines: list[str] = []
    stack = [(node, 0) for node in reversed(children.get(None, []))]
    while stack:  # iterative depth-first walk: deep trees do not hit the recursion limit
        node, depth = stack.pop()
        lines.append("| " * depth + _line(node, width))
        stack += [(c, depth + 1) for c in reversed(children.get(node["id"], []))]
    return "\n".join(lines)


def _line(node: dict[str, Any], width: int) -> str:
    text = node.get("text", "").strip().replace("\n", "\\n")
    if len(text) > width:
        text = text[: width - 1] + "…"
    score = node.get("score")
    parts = ["*" if node.get("kept") else "x", f"[{node['id']}]"]
    if node.get("temperature") is not None:
        parts.append(f"T={node['temperature']:g}")
    parts.append(f"s={score:.2f}" if score is not None else "s=-")
    if node.get("done"):
        parts.append("done")
    return " ".join(parts) + f" {json.dumps(text, ensure_ascii=False)}"
