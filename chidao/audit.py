"""Audit: a cascade's history from its event log, and proof that the record was not changed.

verify() checks that the events form an unbroken hash chain (a changed payload, a deleted or an inserted
event breaks it), that every stored letter is the rendering of its recorded content with the recorded
SHA-256, and that every message sent belongs to a letter that was approved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.cascades import get_cascade, letter_content
from db.events import GENESIS, event_hash, history
from db.models import Event, LetterRecord, RecipientRecord
from letters.render import render_markdown, sha256


@dataclass(frozen=True)
class Discrepancy:
    """The first thing found wrong: where, and what differs."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def timeline(session: Session, cascade_id: int) -> list[Event]:
    get_cascade(session, cascade_id)
    return history(session, cascade_id)


def verify(session: Session, cascade_id: int) -> list[Discrepancy]:
    """Everything found wrong, in the order checked (an empty list: the record holds)."""
    get_cascade(session, cascade_id)
    found: list[Discrepancy] = []
    prev, expected_seq = GENESIS, 1
    for event in history(session, cascade_id):
        where = f"event {event.seq} ({event.kind}, id {event.id})"
        if event.seq != expected_seq:
            found.append(Discrepancy(where, f"expected event {expected_seq} here: an event is missing"))
        if event.prev_hash != prev:
            found.append(Discrepancy(where, "does not follow the event before it (chain broken: deleted or inserted)"))
        if event_hash(event.prev_hash, event) != event.hash:
            found.append(Discrepancy(where, "its content does not match its hash (payload or fields changed)"))
        prev, expected_seq = event.hash, event.seq + 1
    letters = session.scalars(
        select(LetterRecord).where(LetterRecord.cascade_id == cascade_id).order_by(LetterRecord.id)
    ).all()
    recorded = _recorded_hashes(session, cascade_id)
    for letter in letters:
        where = f"letter {letter.id} ({letter.unit_code}, {letter.kind})"
        markdown = render_markdown(letter_content(letter))
        if markdown != letter.markdown:
            found.append(Discrepancy(where, "its text is not the rendering of its recorded content"))
        if sha256(letter.markdown) != letter.sha256:
            found.append(Discrepancy(where, "its text does not match its SHA-256"))
        if letter.status in ("approved", "sent") and recorded.get(letter.id) != letter.sha256:
            found.append(Discrepancy(where, "differs from the letter recorded at approval"))
    sent = session.execute(
        select(RecipientRecord.letter_id, LetterRecord.status, RecipientRecord.unit_code)
        .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
        .where(LetterRecord.cascade_id == cascade_id, RecipientRecord.status == "sent")
    ).all()
    for letter_id, status, unit in sent:
        if status not in ("approved", "sent"):
            found.append(Discrepancy(f"message of letter {letter_id} to {unit}", f"sent but the letter is {status}"))
    return found


def _recorded_hashes(session: Session, cascade_id: int) -> dict[int, str]:
    """The SHA-256 each letter had when it was approved, as the event log recorded it."""
    out: dict[int, str] = {}
    for event in history(session, cascade_id):
        if event.kind == "letter.approved" and event.letter_id is not None:
            out[event.letter_id] = json.loads(event.payload)["sha256"]
    return out
