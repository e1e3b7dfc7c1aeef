"""The issued PDFs against the record, for `chidao replay --verify`.

Always (cheap, and complete for integrity): every PDF stored is one an issue recorded, every issue's PDF is
still stored, and its SHA-256 is the one its `letter.issued` event recorded. That event is in the cascade's
hash chain, so a changed byte, a swapped or replaced file, or a file whose recorded hash was edited is
found; it costs a hash per file (the national cascade's 1,650 PDFs, 200 MB: well under a second).

With deep=True (`--verify --deep`), each PDF is also examined as a document: its first revision is exactly
the recorded letter drawn again (so its text is the letter's), the number and the day filled in are the
recorded ones, and both signatures hold against the trusted CAs, nothing changed after them but the fill.
That is what the hash cannot say: that the file issued was the right one, and that whoever wrote the record
also held the signing keys (a database edited by hand, chain and all, is found only there). It costs about
80 ms a PDF, so it runs in worker processes, one per core.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.cores import cores, worker_pool
from db.cascades import letter_content
from db.models import Event, LetterDocument, LetterRecord
from letters.content import Letter

BATCH = 100  # PDFs read from the database at a time: the national cascade's are 200 MB in all
INLINE = 8  # fewer deep checks than this run in this process: starting the workers costs more


@dataclass(frozen=True)
class DeepCheck:
    """One PDF's deep check, as handed to a worker process (everything it needs, nothing from the database)."""

    where: str
    pdf: bytes
    letter: Letter
    seal_mm: float
    signed_on_paper: bool
    trust: tuple[bytes, ...]  # the trusted CAs' certificates (DER); empty: no keys file
    untrusted: str  # why there are no CAs to check against, or ""


def check_documents(
    session: Session,
    letters: Sequence[LetterRecord],
    events: Sequence[Event],
    payloads: Sequence[dict[str, Any]],
    *,
    deep: bool = False,
    workers: int | None = None,
) -> tuple[int, list[tuple[str, str]]]:
    """(PDFs checked, [(where, what is wrong)]), in letter order. deep: also each PDF as a document (see the
    module), in `workers` processes (default: one per core; 1: in this process)."""
    by_id = {letter.id: letter for letter in letters}
    issued = {
        e.letter_id: (e, p)
        for e, p in zip(events, payloads, strict=True)
        if e.kind == "letter.issued" and e.letter_id is not None
    }
    stored = set(session.scalars(select(LetterDocument.letter_id).where(LetterDocument.letter_id.in_(list(by_id)))))
    found: list[tuple[str, str]] = []
    for letter_id in sorted(stored - set(issued)):
        found.append((f"letter {letter_id}", "has a PDF that no issue recorded (added by hand?)"))
    trust, untrusted = _trust() if deep else ((), "")
    checked, jobs = 0, []
    for letter_id, pdf, recorded, (event, payload) in _stored_pdfs(session, issued, stored & set(by_id)):
        where = f"letter {letter_id} ({by_id[letter_id].unit_code})" if letter_id in by_id else f"letter {letter_id}"
        if pdf is None:
            found.append((where, f"its issued PDF (event {event.seq}) is no longer stored"))
            continue
        checked += 1
        if hashlib.sha256(pdf).hexdigest() != payload["pdf_sha256"] or recorded != payload["pdf_sha256"]:
            found.append((where, "its PDF is not the file its issue recorded (SHA-256 differs)"))
            continue
        if deep:
            content = letter_content(by_id[letter_id])
            seal_mm = float(payload.get("seal_mm", 36.0))
            paper = bool(payload.get("signed_on_paper"))
            jobs.append(DeepCheck(where, pdf, content, seal_mm, paper, trust, untrusted))
    if jobs:
        found += _run_deep(jobs, workers)
    return checked, found


def _stored_pdfs(
    session: Session, issued: dict[int, tuple[Event, dict[str, Any]]], stored: set[int]
) -> Iterator[tuple[int, bytes | None, str, tuple[Event, dict[str, Any]]]]:
    """Each issue with its stored PDF (None: gone) and the hash stored beside it, a batch of rows at a time,
    read as plain columns so that no PDF stays in the session."""
    order = sorted(issued)
    for start in range(0, len(order), BATCH):
        ids = order[start : start + BATCH]
        wanted = [i for i in ids if i in stored]
        rows = {
            letter_id: (pdf, digest)
            for letter_id, pdf, digest in session.execute(
                select(LetterDocument.letter_id, LetterDocument.pdf, LetterDocument.sha256).where(
                    LetterDocument.letter_id.in_(wanted)
                )
            )
        }
        for letter_id in ids:
            pdf, digest = rows.get(letter_id, (None, ""))
            yield letter_id, pdf, digest, issued[letter_id]


def _run_deep(jobs: list[DeepCheck], workers: int | None) -> list[tuple[str, str]]:
    """The deep checks, in worker processes when there are enough of them; results in the jobs' order."""
    count = workers if workers is not None else cores()
    if count <= 1 or (workers is None and len(jobs) < INLINE):
        return [(job.where, what) for job in jobs for what in deep_check(job)]
    found: list[tuple[str, str]] = []
    pending: deque[tuple[str, Future[list[str]]]] = deque()
    with worker_pool(count) as pool:  # each worker keeps its fonts and parsed CAs between PDFs
        for job in jobs:
            pending.append((job.where, pool.submit(deep_check, job)))
            if len(pending) >= 4 * count:  # a few PDFs in flight per worker, not all of them at once
                where, done = pending.popleft()
                found += [(where, what) for what in done.result()]
        while pending:
            where, done = pending.popleft()
            found += [(where, what) for what in done.result()]
    return found


def deep_check(job: DeepCheck) -> list[str]:
    """What is wrong with one PDF as a document: its first revision, its number and day, its signatures."""
    from letters.pdf import render_pdf
    from signing.verify import verify_pdf

    found = []
    base = render_pdf(job.letter, seal_mm=job.seal_mm).data
    if not job.pdf.startswith(base):
        found.append("its PDF's first revision is not the recorded letter")
    if job.untrusted:
        return [*found, job.untrusted]
    result = verify_pdf(job.pdf, _certificates(job.trust))
    content = job.letter
    number = f"{content.number:02d}" if content.number is not None else ""
    day = f"{content.issued_on.day:02d}" if content.issued_on is not None else ""
    if (result.number, result.day) != (number, day):
        found.append(f"its PDF says number {result.number!r}, day {result.day!r}")
    problems = list(result.problems)
    if job.signed_on_paper:
        problems = [p for p in problems if p != "no approver's signature"]
    for check in result.signatures:
        if not check.holds:
            state = "intact" if check.intact else "not intact"
            problems.append(
                f"the {check.role}'s signature does not hold ({state}, "
                f"{'trusted' if check.trusted else 'not trusted'}{', ' + check.problem if check.problem else ''})"
            )
    return found + [f"its PDF: {p}" for p in problems]


@lru_cache(maxsize=4)
def _certificates(trust: tuple[bytes, ...]) -> list[Any]:
    from asn1crypto import x509  # type: ignore[import-untyped]

    return [x509.Certificate.load(der) for der in trust]


def _trust() -> tuple[tuple[bytes, ...], str]:
    """The trusted CAs of the keys file (DER, for the workers), or why there are none to check against."""
    from chidao.issuing import keyring
    from signing.keys import KeyProblem
    from signing.signers import trust_roots

    try:
        return tuple(cert.dump() for cert in trust_roots(keyring().trust)), ""
    except KeyProblem:
        return (), "its signatures cannot be checked: no keys file names the trusted CAs (CHIDAO_KEYS)"
