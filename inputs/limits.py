"""How much of a file chidao reads, in one place for every face (the CLI, the desk, the flows): a file
larger than its kind allows is refused before it is read, a YAML document deeper or bigger than that is
refused before it is built, and YAML anchors and aliases are refused in the files people give (nothing
chidao reads needs them, and a few hundred bytes of nested aliases expand to gigabytes)."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    what: str  # "a directive", for the message
    max_bytes: int
    max_nodes: int  # YAML nodes: mappings, sequences and values
    max_depth: int = 24  # nesting of mappings and sequences
    line_depth: int = 24  # the line of every value this deep or less is kept, for messages


DIRECTIVE = Limits("a directive", 1 * MIB, 100_000)
REPORT = Limits("a report", 1 * MIB, 100_000)
EDIT = Limits("a letter's edit", 1 * MIB, 100_000)
KEYS = Limits("a keys file", 16 * MIB, 2_000_000)
# The whole country before 2025 is 14,099 units and 7 MB; room for a hundred thousand units and more.
HIERARCHY = Limits("a hierarchy", 96 * MIB, 12_000_000, line_depth=5)  # lines to a unit's approver
MAX_UNITS = 250_000


def too_big(limits: Limits, size: int) -> str | None:
    """Why a file of this size is refused, or None."""
    if size <= limits.max_bytes:
        return None
    return f"too large for {limits.what}: {size / MIB:.1f} MB (at most {limits.max_bytes / MIB:.0f} MB)"
