"""Search, a filter by state, and pages, the same on every list of the desk (inbox, reports owed, cascades,
a cascade's letters and units, letters received). The query comes from the page's address (?q=…&state=…&
page=…), so a list can be bookmarked and works without JavaScript. Searching ignores case and Vietnamese
marks: "cao loc" finds "Cao Lộc"."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlencode

from inputs.vietnamese import nfc

T = TypeVar("T")
PER_PAGE = 25
MAX_QUERY = 200


def folded(text: str) -> str:
    """Lower case, without tones or letter marks (đ is d): what a search compares."""
    decomposed = unicodedata.normalize("NFD", nfc(text).casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class Listing(Generic[T]):
    """One page of a list, and how to get to the others with the same search and filter."""

    rows: list[T]
    total: int  # rows matching the search and filter
    everything: int  # rows before searching
    page: int
    pages: int
    q: str
    state: str
    states: dict[str, str] = field(default_factory=dict)  # filter value -> words
    counts: dict[str, int] = field(default_factory=dict)  # filter value -> rows in that state (before it)
    extra: dict[str, str] = field(default_factory=dict)  # other parameters the links keep (unit=…)
    prefix: str = ""  # parameter names, for two lists on one page ("t" → tq, tstate, tpage)
    per_page: int = PER_PAGE

    def link(self, page: int | None = None, state: str | None = None) -> str:
        params = dict(self.extra)
        query = {"q": self.q, "state": self.state if state is None else state, "page": page or 1}
        for key, value in query.items():
            if value and not (key == "page" and value == 1):
                params[f"{self.prefix}{key}"] = str(value)
        return "?" + urlencode(params) if params else "?"

    def cleared(self) -> str:
        """The whole list again: no search, no filter."""
        return "?" + urlencode(self.extra) if self.extra else "?"

    @property
    def first(self) -> int:
        """The number of the first row shown (from 1)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.state)


def listing(
    rows: Iterable[T],
    *,
    q: str = "",
    state: str = "",
    page: int | str = 1,
    text: Callable[[T], str],
    state_of: Callable[[T], str] | None = None,
    states: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
    per_page: int = PER_PAGE,
    prefix: str = "",
) -> Listing[T]:
    """The rows whose text contains every word of q (marks and case ignored) and whose state is `state`
    (when given and known), the page asked for (the last if beyond it)."""
    every: Sequence[T] = list(rows)
    q = nfc(q or "").strip()[:MAX_QUERY]
    known = states or {}
    state = state if state in known else ""
    counts: dict[str, int] = {}
    if state_of is not None:
        for row in every:
            key = state_of(row)
            counts[key] = counts.get(key, 0) + 1
    words = folded(q).split()
    found = [
        row
        for row in every
        if (not words or all(w in folded(text(row)) for w in words))
        and (not state or (state_of is not None and state_of(row) == state))
    ]
    pages = max(1, -(-len(found) // per_page))
    try:
        number = int(page)
    except (TypeError, ValueError):
        number = 1
    number = min(max(1, number), pages)
    shown = found[(number - 1) * per_page : number * per_page]
    return Listing(shown, len(found), len(every), number, pages, q, state, known, counts, extra or {}, prefix, per_page)
