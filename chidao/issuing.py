"""Issuing a letter as the official document: the PDF with the approver's and the issuing body's digital
signatures (signing/), made in the approval's own transaction, so that a letter is numbered only if it is
signed. Keys come from the keys file (CHIDAO_KEYS, else DATA_DIR/pki/keys.yaml from `chidao pki init`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from chidao.refusals import Refused
from chidao.settings import settings
from db import events
from db.models import LetterDocument, LetterRecord
from letters.content import Letter
from signing.keys import KeyProblem, Keyring, load_keyring

# What a person reads when a signature is refused, by the kind of problem (the record keeps the detail).
WORDS = {
    "missing": "Chưa có khóa ký số cho người ký hoặc cơ quan này.",
    "wrong_pin": "Mã PIN không đúng.",
    "locked": "Thiết bị ký số đã bị khóa do nhập sai mã PIN quá nhiều lần.",
    "token": "Không dùng được thiết bị ký số.",
    "expired": "Chứng thư số đã hết hạn hoặc chưa có hiệu lực.",
    "untrusted": "Chứng thư số không do tổ chức chứng thực được tin cậy cấp.",
    "other": "Không ký số được.",
}


class SigningRefused(Refused):
    """A letter that could not be signed (no key, wrong PIN, expired certificate…): it stays unsigned and
    unnumbered, and the attempt is recorded."""

    def __init__(self, problem: KeyProblem, *, user: str, letter: LetterRecord) -> None:
        super().__init__(
            f"letter {letter.id} not signed: {problem}",
            user=user,
            cascade_id=letter.cascade_id,
            action="sign",
            letter_id=letter.id,
            kind=problem.kind,
        )
        self.kind = problem.kind

    @property
    def words(self) -> str:
        return WORDS.get(self.kind, WORDS["other"])


def keys_file() -> Path:
    found = settings().keys_file
    if found is None:
        raise KeyProblem(
            "no signing keys are configured: set CHIDAO_KEYS to the keys file, or make a trial PKI with "
            "`chidao pki init --hierarchy FILE`",
            "missing",
        )
    return found


def keyring() -> Keyring:
    """The configured keys (read again when the file changes); KeyProblem if there are none, InputError if
    the file is wrong."""
    path = keys_file()
    return _read(path.resolve(), path.stat().st_mtime if path.exists() else 0.0)


@lru_cache(maxsize=4)
def _read(path: Path, _mtime: float) -> Keyring:
    return load_keyring(path)


def check_signers(unit_code: str, approver: str | None) -> Keyring:
    """Before anything is asked or changed: the unit's seal key and the approver's key are configured and
    their certificates in force (KeyProblem says what is wrong)."""
    found = keyring()
    if approver is not None:
        found.check(found.approver(approver))
    found.check(found.unit(unit_code))
    return found


def needs_pin(approver: str) -> bool:
    """True if this approver types a PIN to sign (their key has no pin_file)."""
    return keyring().approver(approver).needs_pin


def issue(
    session: Session,
    letter: LetterRecord,
    content: Letter,
    *,
    approver: str | None,
    pin: str | None = None,
    now: datetime | None = None,
) -> LetterDocument:
    """Sign the numbered letter (approver None: signed on paper, the body's signature alone), store the PDF and
    its hash, log it. KeyProblem if a key cannot sign; nothing is stored then."""
    from letters.pdf import render_pdf
    from signing import pades
    from signing.signers import trust_roots, unlocked

    assert content.number is not None and content.issued_on is not None, "a letter is issued once numbered"
    keys = check_signers(letter.unit_code, approver)
    seal_key = keys.unit(letter.unit_code)
    trust = trust_roots(keys.trust)
    when = (now or datetime.now(ZoneInfo(settings().timezone))).replace(microsecond=0)
    pdf = render_pdf(content, seal_mm=seal_key.seal_mm).data
    if approver is not None:
        key = keys.approver(approver)
        with unlocked(keys, key, pin) as signer:
            pdf = pades.sign_approval(pdf, signer, key.image, when, trust, approver)
    with unlocked(keys, seal_key, None) as signer:
        pdf = pades.issue(
            pdf,
            number=f"{content.number:02d}",
            day=f"{content.issued_on.day:02d}",
            signer=signer,
            seal=seal_key.image,
            seal_mm=seal_key.seal_mm,
            body=[content.issuer_name, *([content.parent_body] if content.parent_body else [])],
            when=when,
            trust=trust,
        )
    digest = hashlib.sha256(pdf).hexdigest()
    document = LetterDocument(letter_id=letter.id, pdf=pdf, sha256=digest, issued_at=when)
    session.add(document)
    events.record(
        session,
        letter.cascade_id,
        "letter.issued",
        approver or "văn thư",
        {
            "pdf_sha256": digest,
            "signed_at": when.isoformat(),
            "approver": approver,
            "signed_on_paper": approver is None,
            "seal_mm": seal_key.seal_mm,
            "bytes": len(pdf),
        },
        letter_id=letter.id,
    )
    return document


def document_of(session: Session, letter_id: int) -> LetterDocument | None:
    return session.get(LetterDocument, letter_id)
