"""Letters rendered through the Jinja2 templates in templates/ (Markdown and the printed page)."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from inputs.vietnamese import upper
from letters.content import Letter

TEMPLATES = Path(os.environ.get("CHIDAO_TEMPLATES_DIR", Path(__file__).resolve().parent.parent / "templates"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """StrictUndefined: a missing field is a bug, never a silent blank on a signed letter."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["upper_vn"] = upper
    return env


def render_markdown(letter: Letter) -> str:
    return environment().get_template("letter.md.j2").render(letter=letter)


def render_html(letter: Letter) -> str:
    return environment().get_template("letter.html.j2").render(letter=letter)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
