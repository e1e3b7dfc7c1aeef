"""The hierarchy as a networkx DiGraph (parent -> child), with the queries the cascade needs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx

from hierarchy.model import HierarchyFile, Link, Role, Unit
from inputs.vietnamese import vn_sort_key


class UnknownUnit(KeyError):
    """A code that names no unit of the hierarchy."""

    def __str__(self) -> str:
        return f"unknown unit {self.args[0]!r}"


class HierarchyCycle(ValueError):
    """The parent links form a cycle."""


@dataclass(frozen=True)
class Hierarchy:
    """A validated hierarchy: the graph plus the file it came from."""

    source: HierarchyFile
    graph: nx.DiGraph
    normalised: int = 0  # text values of the file that were not in NFC (and were normalised)

    @classmethod
    def build(cls, source: HierarchyFile, normalised: int = 0) -> Hierarchy:
        """Build the graph; the caller has checked parents, roles and cycles (see hierarchy.load). A unit without an
        address of its own (a village) is reached at its nearest unit above that has one (its commune)."""
        graph: nx.DiGraph = nx.DiGraph()
        by_code = {unit.code: unit for unit in source.units}
        for unit in source.units:
            graph.add_node(unit.code, unit=unit)
        for unit in source.units:
            if unit.parent is not None:
                graph.add_edge(unit.parent, unit.code, link=unit.link)
            if unit.own_email is None:
                unit._reached_at = _address_above(by_code, unit)
        return cls(source, graph, normalised)

    @property
    def root(self) -> str:
        return self.source.hierarchy.root

    @property
    def roles(self) -> dict[str, Role]:
        return self.source.roles

    def unit(self, code: str) -> Unit:
        try:
            unit: Unit = self.graph.nodes[code]["unit"]
        except KeyError:
            raise UnknownUnit(code) from None
        return unit

    def __contains__(self, code: object) -> bool:
        return code in self.graph

    def __len__(self) -> int:
        return int(self.graph.number_of_nodes())

    def children(self, code: str) -> list[Unit]:
        """Children in file order (the order the hierarchy's author gave)."""
        if code not in self.graph:
            raise UnknownUnit(code)
        return [self.graph.nodes[c]["unit"] for c in self.graph.successors(code)]

    def link(self, parent: str, child: str) -> Link:
        link: Link = self.graph.edges[parent, child]["link"]
        return link

    def parent(self, code: str) -> Unit | None:
        parent = self.unit(code).parent
        return self.unit(parent) if parent else None

    def has_children(self, code: str) -> bool:
        return bool(self.graph.out_degree(code))

    def levels(self, top: str) -> Iterator[list[Unit]]:
        """Units of top's subtree, breadth first, one list per depth, each in file order."""
        level = [self.unit(top)]
        while level:
            yield level
            level = [child for unit in level for child in self.children(unit.code)]

    def sorted_children(self, code: str) -> list[Unit]:
        """Children in Vietnamese alphabetical order of their names."""
        return sorted(self.children(code), key=lambda u: vn_sort_key(u.name))

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: the version a cascade records."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        """Keys keep the file's order: the order of the roles table is the order of 'Kính gửi' lines."""
        return json.dumps(self.to_data(), ensure_ascii=False, separators=(",", ":"))

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.source.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        return data


def _address_above(by_code: dict[str, Unit], unit: Unit) -> str | None:
    """The address of the nearest unit above this one that has one (None if none has: refused by the loader)."""
    seen = {unit.code}
    parent = unit.parent
    while parent is not None and parent in by_code and parent not in seen:
        above = by_code[parent]
        if above.own_email is not None:
            return above.own_email
        seen.add(parent)
        parent = above.parent
    return None
