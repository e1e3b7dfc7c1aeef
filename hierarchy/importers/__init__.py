"""Hierarchy files made from outside data, each in a separate import step (never a dependency of chidao)."""

from hierarchy.importers.vietnam_provinces import ImportFailed, ImportResult, import_vietnam_provinces

__all__ = ["ImportFailed", "ImportResult", "import_vietnam_provinces"]
