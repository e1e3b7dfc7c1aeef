"""Audit: proof that a cascade's record was not changed.

verify() checks, in this order:
- the events form an unbroken hash chain (a changed payload, a deleted or an inserted event breaks it);
- every stored letter is the rendering of its recorded content, with its recorded SHA-256 and the SHA-256
  its approval recorded;
- every letter is the one the recorded directive, hierarchy snapshot, edits and approval produce;
- every message sent belongs to an approved letter and carried that letter (its Message-ID derives from
  the letter's SHA-256);
- every issued PDF is the file its chained `letter.issued` event recorded (its SHA-256), and, with deep,
  its first revision the recorded letter drawn again and its signatures holding against the trusted CAs
  (chidao.documents says why that is an option);
- the rows (letters, messages, report requests, reports, reminders) and the events agree both ways, so a
  row deleted or added by hand is named.
The replay of the history itself lives in chidao.replay.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.approval import ApprovalError, signer_of
from chidao.documents import check_documents
from chidao.edits import LetterEdit, apply_edits, edits_since_generated
from db.cascades import get_cascade, inputs_of, letter_content
from db.events import GENESIS, event_hash, history
from db.models import (
    DirectiveRecord,
    Event,
    HierarchySnapshot,
    LetterRecord,
    RecipientRecord,
    Reminder,
    Report,
    ReportRequest,
)
from hierarchy.graph import Hierarchy
from hierarchy.model import Signer
from letters.content import Letter
from letters.derive import Citation, derived_letter, root_letter
from letters.render import render_markdown, sha256
from mail.message import letter_message_id, message_id

REMINDER_EVENTS = ("reminder.sent", "escalation.sent", "demand.sent")


@dataclass(frozen=True)
class Discrepancy:
    """Something found wrong: where, and what differs."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Verification:
    """What verify() looked at, and what it found wrong (nothing: the record holds)."""

    events: int
    letters: int
    rederived: int
    messages: int
    reports: int
    problems: list[Discrepancy]
    pdfs: int = 0
    deep: bool = False  # the PDFs were also drawn again and their signatures checked

    @property
    def holds(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"{self.events} events in an unbroken chain; {self.letters} letters are their recorded text "
            f"({self.rederived} derived again from the directive, the hierarchy and the recorded edits); "
            f"{self.messages} messages sent, each of an approved letter; {self.pdfs} issued PDFs are the recorded "
            + (
                "files and letters, their signatures holding"
                if self.deep
                else "files (their SHA-256 as issued; --deep draws each again and checks its signatures)"
            )
            + f"; {self.reports} reports, each answering a request; rows and events agree."
        )


def timeline(session: Session, cascade_id: int) -> list[Event]:
    get_cascade(session, cascade_id)
    return history(session, cascade_id)


def verify(session: Session, cascade_id: int, *, deep: bool = False) -> Verification:
    """Check the record; the problems are listed in the order found. The issued PDFs are checked against the
    chain (their SHA-256), which finds any change to them; deep also re-examines each as a document (drawn
    again, its signatures validated: about 80 ms a PDF, on every core), which an auditor asks for when the
    database itself may have been rewritten, or the letters must be shown right, not only unchanged."""
    get_cascade(session, cascade_id)
    events = history(session, cascade_id)
    payloads = [json.loads(e.payload) for e in events]
    letters = session.scalars(
        select(LetterRecord).where(LetterRecord.cascade_id == cascade_id).order_by(LetterRecord.id)
    ).all()
    found = _chain(events)
    found += _inputs(session, cascade_id, events, payloads)
    found += _letters(letters, events, payloads)
    rederived, problems = _rederive(session, cascade_id, letters, events)
    found += problems
    messages, problems = _messages(session, cascade_id, letters, events, payloads)
    found += problems
    reports, problems = _reports(session, cascade_id, events, payloads)
    found += problems
    pdfs, documents = check_documents(session, letters, events, payloads, deep=deep)
    found += [Discrepancy(where, what) for where, what in documents]
    return Verification(len(events), len(letters), rederived, messages, reports, found, pdfs, deep)


def _inputs(session: Session, cascade_id: int, events: Sequence[Event], payloads: list[Any]) -> list[Discrepancy]:
    """The stored directive and hierarchy snapshot are, byte for byte, those the cascade started with."""
    cascade = get_cascade(session, cascade_id)
    started = next((i for i, e in enumerate(events) if e.kind == "cascade.started"), None)
    if started is None:
        return [Discrepancy(f"cascade {cascade_id}", "no cascade.started event")]
    found = []
    stored = {
        "directive": session.scalars(select(DirectiveRecord.data).where(DirectiveRecord.id == cascade.directive_id)),
        "hierarchy": session.scalars(select(HierarchySnapshot.data).where(HierarchySnapshot.id == cascade.snapshot_id)),
    }
    for name, rows in stored.items():
        if sha256(rows.one()) != payloads[started].get(name):
            found.append(
                Discrepancy(_where(events[started]), f"the stored {name} is not the one the cascade started with")
            )
    return found


def _where(event: Event) -> str:
    return f"event {event.seq} ({event.kind}, id {event.id})"


def _chain(events: Sequence[Event]) -> list[Discrepancy]:
    found = []
    prev, expected_seq = GENESIS, 1
    for event in events:
        if event.seq != expected_seq:
            found.append(Discrepancy(_where(event), f"expected event {expected_seq} here: an event is missing"))
        if event.prev_hash != prev:
            found.append(
                Discrepancy(_where(event), "does not follow the event before it (chain broken: deleted or inserted)")
            )
        if event_hash(event.prev_hash, event) != event.hash:
            found.append(Discrepancy(_where(event), "its content does not match its hash (payload or fields changed)"))
        prev, expected_seq = event.hash, event.seq + 1
    return found


def _label(letter: LetterRecord) -> str:
    return f"letter {letter.id} ({letter.unit_code}, {letter.kind})"


def _letters(
    letters: Sequence[LetterRecord], events: Sequence[Event], payloads: Sequence[dict[str, Any]]
) -> list[Discrepancy]:
    """Each letter's text against its content and hash; each letter row against the events that made it."""
    found = []
    drafted = {e.letter_id for e in events if e.kind in ("letter.drafted", "report.drafted")}
    approved = {e.letter_id: p for e, p in zip(events, payloads, strict=True) if e.kind == "letter.approved"}
    for letter in letters:
        where = _label(letter)
        if letter.id not in drafted:
            found.append(Discrepancy(where, "no event drafted it (a row added by hand?)"))
        if render_markdown(letter_content(letter)) != letter.markdown:
            found.append(Discrepancy(where, "its text is not the rendering of its recorded content"))
        if sha256(letter.markdown) != letter.sha256:
            found.append(Discrepancy(where, "its text does not match its SHA-256"))
        signed = approved.get(letter.id)
        if letter.status in ("approved", "sent") and signed is None:
            found.append(Discrepancy(where, f"is {letter.status} but no approval was recorded"))
        elif signed is not None and signed["sha256"] != letter.sha256:
            found.append(Discrepancy(where, "differs from the letter recorded at approval"))
    rows = {letter.id for letter in letters}
    for event in events:
        if event.kind in ("letter.drafted", "report.drafted") and event.letter_id not in rows:
            found.append(Discrepancy(_where(event), f"drafted letter {event.letter_id}, which is no longer stored"))
    return found


def _rederive(
    session: Session, cascade_id: int, letters: Sequence[LetterRecord], events: Sequence[Event]
) -> tuple[int, list[Discrepancy]]:
    """Each letter sent down must be exactly what the recorded inputs produce: derived from the directive and
    the hierarchy snapshot, citing the letter above as it stands, with the recorded edits applied and the
    number and date its approval recorded. (A BÁO CÁO follows the reports; its text is checked above.)"""
    cascade = get_cascade(session, cascade_id)
    directive, hierarchy = inputs_of(session, cascade)
    by_id = {letter.id: letter for letter in letters}
    edits, signed = _edits_and_signatures(events)
    found, count = [], 0
    for letter in letters:
        if letter.kind != "letter":
            continue
        stored = letter_content(letter)
        if letter.parent_id is None:
            expected: Letter | None = root_letter(directive, hierarchy, cascade.draft_date)
        elif letter.parent_id in by_id:
            above = Citation.of(letter_content(by_id[letter.parent_id]))
            expected = derived_letter(directive, hierarchy, letter.unit_code, above, cascade.draft_date)
        else:
            found.append(Discrepancy(_label(letter), f"cites letter {letter.parent_id}, which is not stored"))
            continue
        if expected is None:
            found.append(Discrepancy(_label(letter), "the recorded directive gives this unit nothing to pass down"))
            continue
        changes = edits.get(letter.id, [])
        if changes is None:
            found.append(Discrepancy(_label(letter), "an edit of it was recorded without the edit itself"))
            continue
        update: dict[str, Any] = {}
        if letter.id in signed:
            number, issued_on, approver = signed[letter.id]
            update = {"number": number, "issued_on": issued_on, "signer": _signer(hierarchy, letter, approver)}
        expected = apply_edits(expected, changes).model_copy(update=update)
        count += 1
        if expected != stored:
            found.append(
                Discrepancy(
                    _label(letter),
                    f"is not the letter the recorded inputs produce ({_first_difference(expected, stored)})",
                )
            )
    return count, found


def _signer(hierarchy: Hierarchy, letter: LetterRecord, approver: str) -> Signer | None:
    """The block the recorded approver signs with, from the hierarchy snapshot (None: not its approver)."""
    try:
        return signer_of(hierarchy, letter.unit_code, approver)
    except (StopIteration, ApprovalError):
        return None


def _edits_and_signatures(
    events: Sequence[Event],
) -> tuple[dict[int, list[LetterEdit] | None], dict[int, tuple[int, date, str]]]:
    """Per letter: its recorded edits (None where one lacks its content) and the number, date and approver of
    its signature."""
    per_letter: dict[int, list[tuple[str, str]]] = {}
    signed: dict[int, tuple[int, date, str]] = {}
    for event in events:
        if event.letter_id is None:
            continue
        if event.kind in ("letter.edited", "letter.regenerated"):
            per_letter.setdefault(event.letter_id, []).append((event.kind, event.payload))
        elif event.kind == "letter.approved":
            payload = json.loads(event.payload)
            signed[event.letter_id] = (payload["number"], date.fromisoformat(payload["issued_on"]), event.actor)
    edits: dict[int, list[LetterEdit] | None] = {}
    for letter_id, rows in per_letter.items():
        try:
            edits[letter_id] = edits_since_generated(rows)
        except KeyError:
            edits[letter_id] = None
    return edits, signed


def _first_difference(expected: Letter, stored: Letter) -> str:
    want, have = expected.model_dump(), stored.model_dump()
    fields = [name for name in want if want[name] != have[name]]
    return "differs in " + ", ".join(fields) if fields else "differs"


def _messages(
    session: Session,
    cascade_id: int,
    letters: Sequence[LetterRecord],
    events: Sequence[Event],
    payloads: Sequence[dict[str, Any]],
) -> tuple[int, list[Discrepancy]]:
    """Messages sent against the letters: approved, carrying the letter's hash; rows and events agree."""
    found = []
    by_id = {letter.id: letter for letter in letters}
    logged: dict[tuple[int, str], Event] = {}
    for event, payload in zip(events, payloads, strict=True):
        if event.kind != "message.sent" or event.letter_id is None:
            continue
        logged[(event.letter_id, payload["unit"])] = event
        letter = by_id.get(event.letter_id)
        if letter is None:
            continue  # named by _letters
        if letter.status not in ("approved", "sent"):
            found.append(Discrepancy(_where(event), f"sent letter {letter.id}, which is {letter.status}"))
        carried = payload.get("sha256")
        if carried is not None and carried != letter.sha256:
            found.append(Discrepancy(_where(event), f"sent a text of letter {letter.id} other than the one stored"))
        domain = payload["message_id"].rsplit("@", 1)[-1].rstrip(">")
        if payload["message_id"] not in (  # the letter's one message, or one to this recipient alone (before)
            letter_message_id(letter.id, letter.sha256, domain),
            message_id(letter.id, payload["unit"], letter.sha256, domain),
        ):
            found.append(Discrepancy(_where(event), f"its Message-ID is not that of letter {letter.id} as stored"))
    rows = session.execute(
        select(RecipientRecord.letter_id, RecipientRecord.unit_code, LetterRecord.status)
        .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
        .where(LetterRecord.cascade_id == cascade_id, RecipientRecord.status == "sent")
    ).all()
    for letter_id, unit, status in rows:
        if status not in ("approved", "sent"):
            found.append(Discrepancy(f"message of letter {letter_id} to {unit}", f"sent but the letter is {status}"))
        if (letter_id, unit) not in logged:
            found.append(Discrepancy(f"message of letter {letter_id} to {unit}", "marked sent, but no event sent it"))
    sent = {(letter_id, unit) for letter_id, unit, _ in rows}
    for key, event in logged.items():
        if key not in sent:
            found.append(Discrepancy(_where(event), f"sent to {key[1]}, but the recipient's row does not say so"))
    return len(logged), found


def _reports(
    session: Session, cascade_id: int, events: Sequence[Event], payloads: Sequence[dict[str, Any]]
) -> tuple[int, list[Discrepancy]]:
    """Requests, reports and reminders against their events; every report answers a request of the cascade."""
    found: list[Discrepancy] = []
    requests = session.scalars(select(ReportRequest).where(ReportRequest.cascade_id == cascade_id)).all()
    by_id = {r.id: r for r in requests}
    asked = {(e.letter_id, p["unit"]): e for e, p in zip(events, payloads, strict=True) if e.kind == "report.requested"}
    keyed = {(r.letter_id, r.unit_code): r for r in requests}
    found += _both_ways(
        keyed,
        asked,
        lambda k: f"report request of {k[1]} (letter {k[0]})",
        "no event requested it",
        "requested a report the rows no longer hold",
    )
    submitted = {
        (p["request"], p["version"]): e
        for e, p in zip(events, payloads, strict=True)
        if e.kind in ("report.submitted", "report.corrected")
    }
    reports = session.scalars(
        select(Report)
        .join(ReportRequest, ReportRequest.id == Report.request_id)
        .where(ReportRequest.cascade_id == cascade_id)
    ).all()
    found += _both_ways(
        {(r.request_id, r.version): r for r in reports},
        submitted,
        lambda k: f"report {k[1]} of request {k[0]}",
        "no event submitted it",
        "submitted a report the rows no longer hold",
    )
    for (request_id, _), event in submitted.items():
        if request_id not in by_id:
            found.append(Discrepancy(_where(event), f"answers request {request_id}, not a request of this cascade"))
    sent_notices = Counter(
        (p["request"], p["kind"]) for e, p in zip(events, payloads, strict=True) if e.kind in REMINDER_EVENTS
    )
    reminders = session.execute(
        select(Reminder.request_id, Reminder.kind)
        .join(ReportRequest, ReportRequest.id == Reminder.request_id)
        .where(ReportRequest.cascade_id == cascade_id, Reminder.status == "sent")
    ).all()
    rows = Counter((request_id, kind) for request_id, kind in reminders)
    for key in sorted(set(rows) | set(sent_notices)):
        if rows[key] != sent_notices[key]:
            found.append(
                Discrepancy(
                    f"{key[1]} notice for request {key[0]}",
                    f"{rows[key]} row(s) say it was sent, {sent_notices[key]} event(s) record it",
                )
            )
    return len(reports), found


def _both_ways(
    rows: dict[Any, Any],
    logged: dict[Any, Event],
    name: Callable[[Any], str],
    unlogged: str,
    missing: str,
) -> Iterable[Discrepancy]:
    for key in rows:
        if key not in logged:
            yield Discrepancy(name(key), unlogged)
    for key, event in logged.items():
        if key not in rows:
            yield Discrepancy(_where(event), f"{missing}: {name(key)}")
