"""The hierarchy as a printable tree, children in Vietnamese alphabetical order."""

from __future__ import annotations

from collections.abc import Callable

from hierarchy.graph import Hierarchy
from hierarchy.model import Link, Unit


def render_tree(
    hierarchy: Hierarchy,
    root: str | None = None,
    depth: int | None = None,
    label: Callable[[Unit], str] | None = None,
) -> str:
    """A box-drawing tree of root's subtree down to depth levels below it (None: all)."""
    label = label or default_label
    top = hierarchy.unit(root or hierarchy.root)
    lines = [label(top)]

    def walk(code: str, prefix: str, level: int) -> None:
        if depth is not None and level >= depth:
            return
        children = hierarchy.sorted_children(code)
        for i, child in enumerate(children):
            last = i == len(children) - 1
            arrow = "" if hierarchy.link(code, child.code) is Link.direct else "(phối hợp) "
            lines.append(f"{prefix}{'└── ' if last else '├── '}{arrow}{label(child)}")
            walk(child.code, prefix + ("    " if last else "│   "), level + 1)

    walk(top.code, "", 0)
    return "\n".join(lines)


def default_label(unit: Unit) -> str:
    roles = f" [{', '.join(unit.roles)}]" if unit.roles else ""
    return f"{unit.name} ({unit.code}){roles}"
