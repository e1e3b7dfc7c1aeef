"""Queries over letters."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import LetterRecord


class LetterNotFound(LookupError):
    def __str__(self) -> str:
        return f"no letter with id {self.args[0]}"


def get_letter(session: Session, letter_id: int) -> LetterRecord:
    letter = session.get(LetterRecord, letter_id)
    if letter is None:
        raise LetterNotFound(letter_id)
    return letter


def list_letters(
    session: Session, *, cascade_id: int | None = None, unit: str | None = None, status: str | None = None
) -> list[LetterRecord]:
    query = select(LetterRecord).order_by(LetterRecord.cascade_id, LetterRecord.depth, LetterRecord.id)
    if cascade_id is not None:
        query = query.where(LetterRecord.cascade_id == cascade_id)
    if unit is not None:
        query = query.where(LetterRecord.unit_code == unit)
    if status is not None:
        query = query.where(LetterRecord.status == status)
    return list(session.scalars(query))


def letters_of_units(session: Session, cascade_id: int, codes: list[str]) -> dict[str, LetterRecord]:
    rows = session.scalars(
        select(LetterRecord).where(
            LetterRecord.cascade_id == cascade_id, LetterRecord.unit_code.in_(codes), LetterRecord.kind == "letter"
        )
    )
    return {row.unit_code: row for row in rows}
