"""Audit: a cascade's history from its event log, and proof that the record was not changed.

verify() checks that the events form an unbroken hash chain (a changed payload, a deleted or an inserted
event breaks it), that every stored letter is the rendering of its recorded content with the recorded
SHA-256, and that every message sent belongs to a letter that was approved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.cascades import get_cascade, inputs_of, letter_content
from db.events import GENESIS, event_hash, history
from db.models import Event, LetterRecord, RecipientRecord
from letters.content import Letter
from letters.derive import Citation, derived_letter, root_letter
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
    found += _rederive(session, cascade_id, letters)
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


def _rederive(session: Session, cascade_id: int, letters: Sequence[LetterRecord]) -> list[Discrepancy]:
    """Each unedited letter must be exactly what the recorded directive and hierarchy produce, citing the
    letter above as it stands, with the number and date its approval recorded."""
    cascade = get_cascade(session, cascade_id)
    directive, hierarchy = inputs_of(session, cascade)
    by_id = {letter.id: letter for letter in letters}
    found = []
    for letter in letters:
        if letter.kind != "letter" or letter.generated is not None:
            continue  # a BÁO CÁO follows the reports; an edited letter carries its recorded diff
        stored = letter_content(letter)
        if letter.parent_id is None:
            expected: Letter | None = root_letter(directive, hierarchy, cascade.draft_date)
        else:
            above = Citation.of(letter_content(by_id[letter.parent_id]))
            expected = derived_letter(directive, hierarchy, letter.unit_code, above, cascade.draft_date)
        if expected is not None:
            expected = expected.model_copy(update={"number": stored.number, "issued_on": stored.issued_on})
        if expected != stored:
            where = f"letter {letter.id} ({letter.unit_code}, {letter.kind})"
            found.append(Discrepancy(where, "is not the letter the recorded directive and hierarchy produce"))
    return found


def _recorded_hashes(session: Session, cascade_id: int) -> dict[int, str]:
    """The SHA-256 each letter had when it was approved, as the event log recorded it."""
    out: dict[int, str] = {}
    for event in history(session, cascade_id):
        if event.kind == "letter.approved" and event.letter_id is not None:
            out[event.letter_id] = json.loads(event.payload)["sha256"]
    return out


@dataclass
class StateAt:
    """A cascade as it stood at a moment, rebuilt from its events alone."""

    at: str
    letters: dict[str, str]  # unit -> drafted, approved, rejected, sent
    received: list[str]  # units a letter had reached
    reported: dict[str, str]  # unit -> on time, late
    overdue: list[str]  # units past their deadline without a report

    def to_data(self) -> dict[str, object]:
        return {
            "at": self.at,
            "letters": self.letters,
            "received": self.received,
            "reported": self.reported,
            "overdue": self.overdue,
        }


def state_at(session: Session, cascade_id: int, moment: datetime) -> StateAt:
    """Replay the events up to `moment`: which letters existed in which state, who had received, who had
    reported, what was overdue (by the deadline each request recorded)."""
    from chidao.reporting import local_date

    letters: dict[str, str] = {}
    recipients: dict[int, int] = {}
    delivered: dict[int, int] = {}
    received: list[str] = []
    due: dict[str, str | None] = {}
    reported: dict[str, str] = {}
    for event in history(session, cascade_id):
        if event.at > moment:
            break
        payload = json.loads(event.payload)
        if event.kind in ("letter.drafted", "report.drafted") and event.letter_id is not None:
            recipients[event.letter_id] = payload.get("recipients", 0)
            letters[_label(payload["unit"], event.kind)] = "drafted"
        elif event.kind in ("letter.approved", "letter.rejected", "letter.regenerated") and event.letter_id:
            key = _key(session, event.letter_id)
            letters[key] = {"letter.approved": "approved", "letter.rejected": "rejected"}.get(event.kind, "drafted")
        elif event.kind == "message.sent" and event.letter_id is not None:
            delivered[event.letter_id] = delivered.get(event.letter_id, 0) + 1
            if delivered[event.letter_id] >= recipients.get(event.letter_id, 0):
                letters[_key(session, event.letter_id)] = "sent"
            received.append(payload["unit"])
        elif event.kind == "report.requested":
            due[payload["unit"]] = payload["due"]
        elif event.kind == "report.submitted":
            reported[payload["unit"]] = "late" if payload["late"] else "on time"
    today = local_date(moment).isoformat()
    overdue = sorted(unit for unit, day in due.items() if day is not None and day < today and unit not in reported)
    return StateAt(moment.isoformat(timespec="seconds"), letters, received, reported, overdue)


def _label(unit: str, kind: str) -> str:
    return unit if kind == "letter.drafted" else f"{unit} (báo cáo)"


def _key(session: Session, letter_id: int) -> str:
    letter = session.get_one(LetterRecord, letter_id)
    return letter.unit_code if letter.kind == "letter" else f"{letter.unit_code} (báo cáo)"
