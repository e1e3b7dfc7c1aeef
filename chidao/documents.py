"""The issued PDFs against the record, for `chidao replay --verify`: each is the file its issue recorded (its
SHA-256), its first revision is exactly the recorded letter as rendered (so its text is the letter's), the
number and the day filled in are the recorded ones, and its signatures hold against the trusted CAs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.cascades import letter_content
from db.models import Event, LetterDocument, LetterRecord


def check_documents(
    session: Session, letters: Sequence[LetterRecord], events: Sequence[Event], payloads: Sequence[dict[str, Any]]
) -> tuple[int, list[tuple[str, str]]]:
    """(PDFs checked, [(where, what is wrong)])."""
    from letters.pdf import render_pdf
    from signing.verify import verify_pdf

    by_id = {letter.id: letter for letter in letters}
    issued = {
        e.letter_id: (e, p)
        for e, p in zip(events, payloads, strict=True)
        if e.kind == "letter.issued" and e.letter_id is not None
    }
    rows = {
        d.letter_id: d for d in session.scalars(select(LetterDocument).where(LetterDocument.letter_id.in_(list(by_id))))
    }
    found: list[tuple[str, str]] = []
    for letter_id in sorted(set(rows) - set(issued)):
        found.append((f"letter {letter_id}", "has a PDF that no issue recorded (added by hand?)"))
    trust, untrusted = _trust()
    checked = 0
    for letter_id, (event, payload) in sorted(issued.items()):
        where = f"letter {letter_id} ({by_id[letter_id].unit_code})" if letter_id in by_id else f"letter {letter_id}"
        document = rows.get(letter_id)
        if document is None or letter_id not in by_id:
            found.append((where, f"its issued PDF (event {event.seq}) is no longer stored"))
            continue
        checked += 1
        digest = hashlib.sha256(document.pdf).hexdigest()
        if digest != payload["pdf_sha256"] or document.sha256 != payload["pdf_sha256"]:
            found.append((where, "its PDF is not the file its issue recorded (SHA-256 differs)"))
            continue
        content = letter_content(by_id[letter_id])
        base = render_pdf(content, seal_mm=float(payload.get("seal_mm", 36.0))).data
        if not document.pdf.startswith(base):
            found.append((where, "its PDF's first revision is not the recorded letter"))
        if untrusted:
            found.append((where, untrusted))
            continue
        result = verify_pdf(document.pdf, trust)
        number = f"{content.number:02d}" if content.number is not None else ""
        day = f"{content.issued_on.day:02d}" if content.issued_on is not None else ""
        if (result.number, result.day) != (number, day):
            found.append((where, f"its PDF says number {result.number!r}, day {result.day!r}"))
        expected = 1 if payload.get("signed_on_paper") else 2
        problems = list(result.problems)
        if expected == 1:
            problems = [p for p in problems if p != "no approver's signature"]
        for check in result.signatures:
            if not check.holds:
                state = "intact" if check.intact else "not intact"
                problems.append(
                    f"the {check.role}'s signature does not hold ({state}, "
                    f"{'trusted' if check.trusted else 'not trusted'}{', ' + check.problem if check.problem else ''})"
                )
        found += [(where, f"its PDF: {p}") for p in problems]
    return checked, found


def _trust() -> tuple[list[Any], str]:
    """The trusted CAs of the keys file, or why there are none to check against."""
    from chidao.issuing import keyring
    from signing.keys import KeyProblem
    from signing.signers import trust_roots

    try:
        return trust_roots(keyring().trust), ""
    except KeyProblem:
        return [], "its signatures cannot be checked: no keys file names the trusted CAs (CHIDAO_KEYS)"
