"""A letter's edits: the edit file's shape (the same sections as a directive's), reading it, and the letter
with its recorded edits applied (the audit replays them; a regeneration drops those before it)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.cascades import letter_content
from db.models import Event, LetterRecord
from inputs.limits import EDIT
from inputs.sources import InputError, read_source, validate
from letters.content import Letter, LetterSection

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class EditSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text
    items: list[Text] = Field(min_length=1)


class LetterEdit(BaseModel):
    """An approver's edit: the sections (same shape as a directive's), and optionally the opening or closing."""

    model_config = ConfigDict(extra="forbid")
    opening: Text | None = None
    sections: list[EditSection] = Field(min_length=1)
    closing: Text | None = None


def load_edit(path: str | Path) -> LetterEdit:
    """Read an edit file; InputError names the file and line of each problem."""
    src = read_source(path, EDIT)
    if not isinstance(src.data, dict):
        raise InputError([src.problem((), "expected a mapping with 'sections' (and optionally 'opening', 'closing')")])
    return validate(LetterEdit, src)


def apply_edits(letter: Letter, changes: Iterable[LetterEdit]) -> Letter:
    """The letter with each edit applied in turn: sections replaced, opening and closing where given."""
    for change in changes:
        letter = letter.model_copy(
            update={
                "sections": tuple(LetterSection(title=s.title, items=tuple(s.items)) for s in change.sections),
                "opening": change.opening or letter.opening,
                "closing": change.closing or letter.closing,
            }
        )
    return letter


def edits_since_generated(events: Iterable[tuple[str, str]]) -> list[LetterEdit]:
    """A letter's edits, from its (kind, payload) events in order; a regeneration drops the ones before it."""
    edits: list[LetterEdit] = []
    for kind, payload in events:
        if kind == "letter.regenerated":
            edits = []
        elif kind == "letter.edited":
            edits.append(LetterEdit.model_validate(json.loads(payload)["edit"]))
    return edits


def recorded_edits(session: Session, letter_id: int) -> list[LetterEdit]:
    rows = session.execute(
        select(Event.kind, Event.payload)
        .where(Event.letter_id == letter_id, Event.kind.in_(("letter.edited", "letter.regenerated")))
        .order_by(Event.seq)
    ).all()
    return edits_since_generated((kind, payload) for kind, payload in rows)


def alters(letter: LetterRecord, change: LetterEdit) -> bool:
    """True if the edit changes the letter as it stands (an unchanged form is no edit)."""
    content = letter_content(letter)
    return apply_edits(content, [change]) != content
