"""The administrative hierarchy as a networkx graph, loaded from a YAML file."""

from hierarchy.graph import Hierarchy, HierarchyCycle, UnknownUnit
from hierarchy.load import load_hierarchy, parse_hierarchy
from hierarchy.model import HierarchyFile, Link, Role, Signer, Unit

__all__ = [
    "Hierarchy",
    "HierarchyCycle",
    "HierarchyFile",
    "Link",
    "Role",
    "Signer",
    "Unit",
    "UnknownUnit",
    "load_hierarchy",
    "parse_hierarchy",
]
