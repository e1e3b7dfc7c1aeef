"""The desk's accounts: who may sign in, their Argon2 password hashes, and throttled sign-in.

An account is a person the hierarchy names (an approver, drafter or reporter of some unit: what they may do is
decided by the cascade's own hierarchy snapshot, never by the account), or an auditor, who reads
everything and changes nothing. Functions take the session; the caller commits.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db import events
from db.base import utcnow
from db.models import Account, DeskSessionRow, SignInAttempt
from hierarchy.graph import Hierarchy
from inputs.vietnamese import nfc

ROLES = ("person", "auditor")
MIN_PASSWORD = 10
WINDOW = timedelta(minutes=15)  # failures counted over this long …
MAX_FAILURES_ACCOUNT = 5  # … before an account's sign-in is refused until the oldest ages out
MAX_FAILURES_ADDRESS = 20  # … or an address's, whichever accounts it tries

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
_DUMMY = _hasher.hash("chidao: an unknown account costs as much time as a known one")


class AccountError(Exception):
    """An account that cannot be created or changed; the message says why."""


def people(hierarchy: Hierarchy) -> dict[str, str]:
    """Everyone the hierarchy names, by id: approvers, drafters and reporters of every unit."""
    found: dict[str, str] = {}
    for code in hierarchy.graph:
        unit = hierarchy.unit(code)
        for person in (*unit.approvers, *unit.drafters, *unit.reporters):
            found.setdefault(person.id, person.name)
    return found


def units_of(hierarchy: Hierarchy, person_id: str) -> list[str]:
    """The units a person acts for: approves or prepares the letters of, or reports for."""
    return [
        code
        for code in hierarchy.graph
        if any(
            p.id == person_id
            for p in (*hierarchy.unit(code).approvers, *hierarchy.unit(code).drafters, *hierarchy.unit(code).reporters)
        )
    ]


def check_password(password: str, account_id: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if password.casefold() == account_id.casefold():
        raise AccountError("the password must not be the account's id")


def add_account(session: Session, account_id: str, name: str, role: str, password: str) -> Account:
    account_id, name = nfc(account_id.strip()), nfc(name.strip())
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not account_id or not name:
        raise AccountError("an account needs an id and a name")
    if session.get(Account, account_id) is not None:
        raise AccountError(f"account {account_id!r} exists already (change its password with 'chidao users passwd')")
    check_password(password, account_id)
    account = Account(id=account_id, name=name, role=role, password_hash=_hasher.hash(password))
    session.add(account)
    events.record(session, None, "account.added", "chidao", {"account": account_id, "role": role})
    return account


def set_password(session: Session, account_id: str, password: str) -> Account:
    """A new password; the account's open sessions end at once."""
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError(f"no account {account_id!r} (add it with 'chidao users add')")
    check_password(password, account_id)
    account.password_hash, account.changed_at = _hasher.hash(password), utcnow()
    ended = end_sessions(session, account_id)
    events.record(session, None, "account.password_changed", "chidao", {"account": account_id, "sessions_ended": ended})
    return account


def disable(session: Session, account_id: str, actor: str = "chidao") -> int:
    """The account may no longer sign in; its open sessions end at once. Returns how many ended."""
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError(f"no account {account_id!r}")
    account.disabled = True
    ended = end_sessions(session, account_id)
    events.record(session, None, "account.disabled", actor, {"account": account_id, "sessions_ended": ended})
    return ended


SESSION_LIFETIME = timedelta(hours=10)  # a working day; then sign in again


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session: Session, account_id: str, now: datetime | None = None) -> str:
    """A new signed-in session; its id goes in the cookie, its hash in the table."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    session.add(
        DeskSessionRow(id=_key(session_id), account=account_id, created_at=now, expires_at=now + SESSION_LIFETIME)
    )
    session.execute(delete(DeskSessionRow).where(DeskSessionRow.account == account_id, DeskSessionRow.expires_at < now))
    return session_id


def live(session: Session, session_id: str | None, account_id: str, now: datetime | None = None) -> bool:
    """True if this session of this account has not ended (signed out, a new password, disabled, expired)."""
    if not session_id:
        return False
    row = session.get(DeskSessionRow, _key(session_id))
    return row is not None and row.account == account_id and row.expires_at > (now or utcnow())


def end_session(session: Session, session_id: str | None) -> None:
    if session_id:
        session.execute(delete(DeskSessionRow).where(DeskSessionRow.id == _key(session_id)))


def end_sessions(session: Session, account_id: str) -> int:
    found = session.scalars(select(DeskSessionRow.id).where(DeskSessionRow.account == account_id)).all()
    session.execute(delete(DeskSessionRow).where(DeskSessionRow.account == account_id))
    return len(found)


@dataclass
class SignInRefused:
    """Why a sign-in failed: wrong (id or password: never which) or throttled (retry after minutes)."""

    reason: str
    retry_minutes: int = 0


def authenticate(
    session: Session, account_id: str, password: str, address: str, now: datetime | None = None
) -> Account | SignInRefused:
    """Check a sign-in; every attempt is kept and every refusal is an event. Commit the session either way."""
    now = now or utcnow()
    account_id = nfc(account_id.strip())[:200]
    events.lock_outside(session)  # attempts at the same moment are counted one after the other
    since = now - WINDOW
    lifts: list[datetime] = []  # when each cap that is reached stops applying
    for column, key, cap in (
        (SignInAttempt.account, account_id, MAX_FAILURES_ACCOUNT),
        (SignInAttempt.address, address, MAX_FAILURES_ADDRESS),
    ):
        failed = session.scalars(
            select(SignInAttempt.at)
            .where(column == key, SignInAttempt.ok.is_(False), SignInAttempt.at > since)
            .order_by(SignInAttempt.at)
        ).all()
        if len(failed) >= cap:
            lifts.append(failed[len(failed) - cap] + WINDOW)
    throttled = bool(lifts)
    account = session.get(Account, account_id) if not throttled else None
    refused: SignInRefused | None = None
    if throttled:
        refused = SignInRefused("throttled", max(1, math.ceil((max(lifts) - now).total_seconds() / 60)))
    elif account is None:
        _verify(_DUMMY, password)
        refused = SignInRefused("wrong")
    elif not _verify(account.password_hash, password) or account.disabled:
        refused = SignInRefused("wrong")  # a disabled account is told nothing more than a wrong password
    if not throttled:  # a refused attempt is not a failure: the lock lifts as the failures age out
        session.add(SignInAttempt(account=account_id, address=address[:64], at=now, ok=refused is None))
    if refused is not None:
        events.record(
            session,
            None,
            "attempt.refused",
            account_id or "?",
            {"action": "sign-in", "reason": refused.reason, "address": address},
            at=now,
        )
        return refused
    assert account is not None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
