"""Rendering a stored search tree as text."""

from __future__ import annotations

import json

from ttscale.search.tree import render_tree

NODES = [
    {
        "id": 0,
        "parent": None,
        "text": "7*3=21, so 12+21\n\n",
        "score": 0.97,
        "temperature": 0.8,
        "kept": True,
    },
    {
        "id": 1,
        "parent": None,
        "text": "7*3=22, so 12+22\n\n",
        "score": 0.1,
        "temperature": 0.8,
        "kept": False,
    },
    {
        "id": 2,
        "parent": 0,
        "text": "The answer is \\boxed{33}",
        "score": 0.9,
        "temperature": 0.4,
        "kept": True,
        "done": True,
    },
    {"id": 3, "parent": 0, "text": "x" * 200, "score": None, "temperature": 0.4, "kept": False},
]


def test_children_sit_under_their_parent_with_marks_and_scores():
    lines = render_tree(NODES, width=40).splitlines()
    assert lines[0] == '* [0] T=0.8 s=0.97 "7*3=21, so 12+21"'
    assert lines[1] == '| * [2] T=0.4 s=0.90 done "The answer is \\\\boxed{33}"'
    assert lines[2].startswith('| x [3] T=0.4 s=- "xxx') and len(lines[2]) < 70
    assert lines[3] == 'x [1] T=0.8 s=0.10 "7*3=22, so 12+22"'


def test_accepts_the_json_column_and_deep_trees():
    deep = [
        {
            "id": i,
            "parent": i - 1 if i else None,
            "text": f"s{i}",
            "score": 0.5,
            "temperature": 0.8,
            "kept": True,
        }
        for i in range(3000)
    ]
    out = render_tree(json.dumps(deep))
    assert len(out.splitlines()) == 3000 and out.splitlines()[-1].startswith("| " * 2999)
