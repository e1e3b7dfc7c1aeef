"""The incoming register (sổ đăng ký văn bản đến, Decree 30): every letter a unit received is entered with
the next number of the unit's year (số đến, from 1) and the day it arrived (ngày đến).

A letter has arrived when the mail server accepted the unit's copy (its outbox row is sent). Entries are made
lazily and idempotently: `register_received` numbers the unit's arrived letters not entered yet, in the order
they arrived, whenever the unit's list is read (the desk, `chidao letters received`). Two processes doing it
at once cannot give one number twice nor enter one letter twice: (unit, year, number) and (unit, letter) are
unique, and the loser of a race retries in a savepoint (SQLite's write transactions are one at a time
already). Functions take the session; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chidao.reporting import local_date
from db import events
from db.base import utcnow
from db.cascades import get_cascade, inputs_of, letter_content
from db.models import IncomingEntry, LetterRecord, RecipientRecord, ReportRequest
from letters.content import Letter

ATTEMPTS = 20


class RegisterBusy(Exception):
    """Other processes kept entering the same unit's letters; nothing was entered by this one."""


@dataclass(frozen=True)
class Received:
    """One line of the register: the entry, the letter, who sent it, and the report it asks of the unit."""

    entry: IncomingEntry
    letter: LetterRecord
    content: Letter
    sender: str  # the issuing unit's code
    request_id: int | None

    @property
    def number(self) -> int:
        return self.entry.number

    @property
    def received_on(self) -> date:
        return self.entry.received_on


def register_received(session: Session, unit_code: str, now: datetime | None = None) -> list[IncomingEntry]:
    """Enter the unit's arrived letters not entered yet; returns the new entries (none: all were)."""
    for _ in range(ATTEMPTS):
        try:
            with events.savepoint(session):
                made = _enter(session, unit_code, now or utcnow())
            break
        except IntegrityError:  # another process numbered the same letters or took the same number
            continue
    else:
        raise RegisterBusy(f"could not enter the letters received by {unit_code}: try again")
    for entry, cascade_id in made:  # outside the savepoint: the event chain's head is never rolled back
        events.record(
            session,
            cascade_id,
            "letter.registered",
            "chidao",
            {
                "unit": unit_code,
                "year": entry.year,
                "number": entry.number,
                "received_on": entry.received_on.isoformat(),
            },
            letter_id=entry.letter_id,
        )
    return [entry for entry, _ in made]


def _enter(session: Session, unit_code: str, now: datetime) -> list[tuple[IncomingEntry, int]]:
    entered = exists().where(IncomingEntry.unit_code == unit_code, IncomingEntry.letter_id == RecipientRecord.letter_id)
    arrived = session.execute(
        select(RecipientRecord.letter_id, RecipientRecord.sent_at, LetterRecord.cascade_id)
        .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
        .where(
            RecipientRecord.unit_code == unit_code,
            RecipientRecord.status == "sent",
            RecipientRecord.sent_at.is_not(None),
            ~entered,
        )
        .order_by(RecipientRecord.sent_at, RecipientRecord.letter_id)
    ).all()
    last: dict[int, int] = {}
    made: list[tuple[IncomingEntry, int]] = []
    for letter_id, sent_at, cascade_id in arrived:
        day = local_date(sent_at)
        if day.year not in last:
            last[day.year] = (
                session.scalar(
                    select(func.max(IncomingEntry.number)).where(
                        IncomingEntry.unit_code == unit_code, IncomingEntry.year == day.year
                    )
                )
                or 0
            )
        last[day.year] += 1
        entry = IncomingEntry(
            unit_code=unit_code,
            year=day.year,
            number=last[day.year],
            letter_id=letter_id,
            received_at=sent_at,
            received_on=day,
            registered_at=now,
        )
        session.add(entry)
        made.append((entry, cascade_id))
    session.flush()
    return made


def received(session: Session, unit_code: str, year: int | None = None) -> list[Received]:
    """The unit's register, latest first (entered first: call register_received)."""
    query = select(IncomingEntry, LetterRecord).join(LetterRecord, LetterRecord.id == IncomingEntry.letter_id)
    query = query.where(IncomingEntry.unit_code == unit_code)
    if year is not None:
        query = query.where(IncomingEntry.year == year)
    rows = session.execute(query.order_by(IncomingEntry.year.desc(), IncomingEntry.number.desc())).all()
    requests = {
        r.letter_id: r.id
        for r in session.scalars(
            select(ReportRequest).where(
                ReportRequest.unit_code == unit_code, ReportRequest.letter_id.in_([letter.id for _, letter in rows])
            )
        )
    }
    return [
        Received(entry, letter, letter_content(letter), letter.unit_code, requests.get(letter.id))
        for entry, letter in rows
    ]


def sender_name(session: Session, letter: LetterRecord) -> str:
    """The issuing unit as the hierarchy of the letter's cascade names it."""
    from chidao.words import unit_label

    _, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
    return unit_label(hierarchy.unit(letter.unit_code))
