"""Finding English on a page meant for Vietnamese readers.

Vietnamese text written properly carries its diacritics, and a syllable written in plain ASCII still follows
Vietnamese spelling: an initial consonant, a vowel nucleus, a final (`trang`, `nhanh`, `quy`). English words
mostly do not (`error`, `sent`, `draft`, `page`), so any plain-ASCII word that is no Vietnamese syllable is
reported, except codes (all capitals, or with digits), identifiers (`vhtt-caoloc-tp`, addresses) and the
names the caller allows.
"""

from __future__ import annotations

import re

_INITIAL = r"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?"
_NUCLEUS = r"(?:oai|oao|oay|uya|uyu|ai|ao|au|ay|eo|ia|iu|oa|oe|oi|oo|ua|ui|uy|[aeiouy])"
_FINAL = r"(?:ch|nh|ng|[cmnpt])?"
SYLLABLE = re.compile(f"^{_INITIAL}{_NUCLEUS}{_FINAL}$")
_IDENTIFIER = re.compile(
    r"\S+@\S+|https?://\S+|\b[\w]+(?:[-_.:/][\w]+)+\b"  # addresses, links, ids (vhtt-caoloc-tp, 01/VHTT)
    r"|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b"  # digests (sha256, in hex)
    r"|<[^>\n]{1,40}>"  # markup typed by a user, shown as text
)
_WORD = re.compile(r"[^\W\d_]+")


def english_words(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The words of the text that are neither Vietnamese syllables, codes, identifiers nor allowed names."""
    found: list[str] = []
    for word in _WORD.findall(_IDENTIFIER.sub(" ", text)):
        if not word.isascii() or word.isupper() or word in allowed:
            continue
        if not SYLLABLE.match(word.lower()):
            found.append(word)
    return found


# Words that are not Vietnamese and need not be: the product's name, a key, formats and JavaScript on its pages;
# a loanword of the directive's text and enterprises' names in the hierarchy (the data's, not the desk's).
DESK_ALLOWED = frozenset(
    {"chidao", "Ctrl", "PDF", "YAML", "PIN", "JavaScript", "internet", "Viettel", "MobiFone", "Post"}
)


def english_on_page(page: object, allowed: frozenset[str] = DESK_ALLOWED) -> list[str]:
    """English words a reader sees on a Playwright page; a mail server's own reply (marked lang=en, shown as
    received below its explanation in Vietnamese) and commands (in <code>) are set aside."""
    text = page.evaluate(  # type: ignore[attr-defined]
        "() => { const raw = [...document.querySelectorAll('[lang=en], code')];"
        " raw.forEach(e => e.style.display = 'none'); const text = document.body.innerText;"
        " raw.forEach(e => e.style.display = ''); return text; }"
    )
    found = english_words(str(text), allowed)
    if found:  # where, for the failure's message
        for word in sorted(set(found)):
            at = re.search(rf".{{0,50}}\b{word}\b.{{0,30}}", str(text))
            found.append(f"…{at.group(0) if at else word}…")
    return found
