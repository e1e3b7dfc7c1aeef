"""Vietnamese text: NFC normalisation and collation."""

from __future__ import annotations

import unicodedata
from typing import Any

# Letters of the Vietnamese alphabet in order; ă, â, đ, ê, ô, ơ, ư are letters of their own.
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {ch: i for i, ch in enumerate(_ALPHABET)}
# Tone marks, in the customary dictionary order: none, grave, hook, tilde, acute, dot below.
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Marks that make a letter of its own (breve, circumflex, horn); đ is its own code point.
_LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}


def nfc(text: str) -> str:
    """Normalise to NFC: keyboards and file systems produce NFD, which compares unequal."""
    return unicodedata.normalize("NFC", text)


def nfc_deep(value: Any) -> Any:
    """Normalise every string inside nested lists and dicts (keys included)."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, list):
        return [nfc_deep(v) for v in value]
    if isinstance(value, dict):
        return {nfc_deep(k): nfc_deep(v) for k, v in value.items()}
    return value


def _letters(text: str) -> list[tuple[str, int]]:
    """Split text into (base letter with its letter-making mark, tone) pairs."""
    out: list[tuple[str, int]] = []
    for ch in unicodedata.normalize("NFD", text.lower()):
        if ch in _TONES and out:
            base, _ = out[-1]
            out[-1] = (base, _TONES[ch])
        elif ch in _LETTER_MARKS and out:
            base, tone = out[-1]
            out[-1] = (unicodedata.normalize("NFC", base + ch), tone)
        else:
            out.append((ch, 0))
    return out


def vn_sort_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """Sort key for Vietnamese collation: letters first, then tones, then the text itself."""
    pairs = _letters(text)
    primary = tuple(_RANK.get(b, 100 + ord(b[0])) for b, _ in pairs)
    secondary = tuple(t for _, t in pairs)
    return primary, secondary, text


def upper(text: str) -> str:
    """Capitalise for headers ("UBND TỈNH LẠNG SƠN"); Python's upper() knows đ and the horns."""
    return nfc(text).upper()


def file_name(name: str) -> str:
    """A file's own name as a browser sent it: NFC, without any folder or control character."""
    base = nfc(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "".join(ch for ch in base if ch.isprintable())[:200] or "tệp"
