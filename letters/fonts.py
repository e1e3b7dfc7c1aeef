"""The printed letter's typeface: Liberation Serif 2 (Times-metric, every Vietnamese letter and stacked tone).

Debian's fonts-liberation2 puts it in /usr/share/fonts/truetype/liberation2 (`scripts/setup --system`);
CHIDAO_FONT_DIR names another folder with the same four files. Version 1.07 of the older fonts-liberation
lacks ơ, ư and the stacked tones, so it is never used: a letter would be drawn in two faces.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

STYLES = {"regular": "Regular", "bold": "Bold", "italic": "Italic", "bold_italic": "BoldItalic"}
_SEARCH = (Path("/usr/share/fonts/truetype/liberation2"), Path("/usr/share/fonts/liberation2"))
# Letters a Vietnamese letter may print (NFC): Latin, Latin-1, Ă Đ Ĩ Ũ Ơ Ư, the precomposed Vietnamese
# letters, punctuation. pyHanko's text in fields and stamps is drawn from a copy cut to these.
VIETNAMESE = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    *(0x1A0, 0x1A1, 0x1AF, 0x1B0, 0x309, 0x323, 0x2030, 0x20AB),
    *range(0x300, 0x304),
    *range(0x1EA0, 0x1EFA),
    *range(0x2010, 0x2027),
]


class FontMissing(Exception):
    """The Liberation Serif 2 files are not on this machine."""


@dataclass(frozen=True)
class Face:
    name: str  # as embedded: LiberationSerif, LiberationSerif-Bold, …
    path: Path


@lru_cache(maxsize=1)
def faces() -> dict[str, Face]:
    """The four faces of Liberation Serif 2, by style; FontMissing says how to install them."""
    configured = os.environ.get("CHIDAO_FONT_DIR")
    folders = [Path(configured)] if configured else list(_SEARCH)
    for folder in folders:
        found = {style: folder / f"LiberationSerif-{suffix}.ttf" for style, suffix in STYLES.items()}
        if all(path.is_file() for path in found.values()):
            return {
                style: Face("LiberationSerif" + ("" if style == "regular" else f"-{STYLES[style]}"), path)
                for style, path in found.items()
            }
    raise FontMissing(
        f"the letter's typeface, Liberation Serif 2, is not in {' or '.join(str(f) for f in folders)}: install "
        "Debian's fonts-liberation2 (scripts/setup --system), or set CHIDAO_FONT_DIR to a folder holding "
        "LiberationSerif-{Regular,Bold,Italic,BoldItalic}.ttf"
    )


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chidao" / "fonts"


@lru_cache(maxsize=4)
def for_pdf_body(style: str) -> Path:
    """A copy of a face for the letter's own text: cut to the Vietnamese repertoire, without hinting (the
    PDF is read on screens and printers that do not need it), so each letter embeds half as much."""
    return _derived(style, scaled=False)


@lru_cache(maxsize=4)
def for_pdf_text(style: str) -> Path:
    """A copy of a face for the text pyHanko draws (the number and day filled in, the seal's caption): cut to
    the Vietnamese repertoire and scaled to 1000 units per em, because pyHanko 0.38 writes glyph widths in
    the font's own units (Liberation's 2048 would space every letter twice too wide). Made once into
    ~/.cache/chidao/fonts; only subsets of it are ever embedded in letters, never the file shipped."""
    return _derived(style, scaled=True)


def _derived(style: str, *, scaled: bool) -> Path:
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    source = faces()[style].path
    target = _cache_dir() / f"{source.stem}-vi{'-1000' if scaled else ''}.ttf"
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    font = TTFont(source, recalcTimestamp=False)
    options = subset.Options(notdef_outline=True, recommended_glyphs=True, hinting=False)
    options.layout_features = ["kern", "liga", "mark", "mkmk", "ccmp"]
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=VIETNAMESE)
    cutter.subset(font)
    if scaled:
        scale_upem(font, 1000)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    font.save(name)
    os.replace(name, target)  # whole or not at all: another process may be reading it
    return target


def missing_glyph(style: str, text: str) -> str | None:
    """The first character of text that pyHanko's copy of the face cannot draw (it would draw a blank box)."""
    cmap = _cmap(style)
    return next((ch for ch in text if ord(ch) not in cmap and not ch.isspace()), None)


@lru_cache(maxsize=4)
def _cmap(style: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(for_pdf_text(style)) as font:
        return frozenset(font.getBestCmap())
