"""The event log: who did what, when; each event's hash covers the previous one of its cascade."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event, func, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from db.base import utcnow
from db.models import Cascade, Event

GENESIS = "0" * 64

_flow_run: ContextVar[str | None] = ContextVar("chidao_flow_run", default=None)


@contextmanager
def in_flow_run(flow_run_id: str | None) -> Iterator[None]:
    """Events recorded inside carry this Prefect flow run, so an auditor can follow it in the Prefect UI."""
    token = _flow_run.set(flow_run_id)
    try:
        yield
    finally:
        _flow_run.reset(token)


_HASHED = ("cascade_id", "seq", "at", "actor", "kind", "letter_id", "flow_run_id", "payload")


def event_hash(prev_hash: str, event: Event) -> str:
    """Hash of the previous hash and this event's recorded fields."""
    return _hash(prev_hash, {name: getattr(event, name) for name in _HASHED})


def _hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    fields = [row[name].isoformat() if name == "at" else row[name] for name in _HASHED]
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(
    session: Session,
    cascade_id: int | None,
    kind: str,
    actor: str,
    payload: dict[str, Any] | None = None,
    *,
    letter_id: int | None = None,
    flow_run_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append an event. Writers of one cascade take turns: the first event of a transaction locks the
    cascade's row until commit (SQLite's write transactions are already one at a time), and the chain's
    head is then known to this transaction alone: it is read once, not once per event.

    The row is queued and written with the transaction's next statement, flush or commit, all queued rows in
    one executemany: as ORM objects, SQLite wrote them one INSERT each (an ORM insert needs each new id back,
    and SQLite cannot say which id went to which row of a batch); a dispatch batch records hundreds."""
    seq, prev = _head(session, cascade_id)
    row: dict[str, Any] = {
        "cascade_id": cascade_id,
        "seq": seq,
        "at": (at or utcnow()).astimezone(UTC),  # hashed as stored: the database hands it back in UTC
        "actor": actor,
        "kind": kind,
        "letter_id": letter_id,
        "flow_run_id": flow_run_id or _flow_run.get(),
        "payload": json.dumps(payload or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        "prev_hash": prev,
    }
    row["hash"] = digest = _hash(prev, row)
    session.info.setdefault(_QUEUED, []).append(row)
    key = cascade_id if cascade_id is not None else _OUTSIDE
    session.info[_HEADS][key] = (session.get_transaction(), seq + 1, digest)
    session.info.get(_HISTORIES, {}).pop(cascade_id, None)  # read before this event: read again


_QUEUED = "chidao_events_queued"
_EVENTS = Event.metadata.tables[Event.__tablename__]
_INSERT = insert(_EVENTS)
_CASCADE_HEAD = (
    select(_EVENTS.c.seq, _EVENTS.c.hash)
    .where(_EVENTS.c.cascade_id == bindparam("cascade"))
    .order_by(_EVENTS.c.seq.desc())
    .limit(1)
)
_OUTSIDE_HEAD = (
    select(_EVENTS.c.seq, _EVENTS.c.hash).where(_EVENTS.c.cascade_id.is_(None)).order_by(_EVENTS.c.seq.desc()).limit(1)
)


def write_queued(session: Session) -> None:
    """Write the events recorded and not yet written (one statement for them all)."""
    queued = session.info.get(_QUEUED)
    if queued:
        session.info[_QUEUED] = []
        session.connection().execute(_INSERT, queued)


@contextmanager
def savepoint(session: Session) -> Iterator[SessionTransaction]:
    """session.begin_nested(), the events recorded before it written first: written inside it, they would
    go if it were rolled back."""
    write_queued(session)
    with session.begin_nested() as nested:
        yield nested


@event.listens_for(Session, "do_orm_execute")
def _before_a_statement(state: ORMExecuteState) -> None:
    write_queued(state.session)  # what reads events next sees those recorded


@event.listens_for(Session, "before_flush")
def _before_a_flush(session: Session, _context: object, _instances: object) -> None:
    write_queued(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_queued(session)  # a commit with nothing left to flush flushes nothing: written here


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_QUEUED, None)  # the events of what was rolled back go with it


_HEADS = "chidao_chain_heads"
_OUTSIDE = 0  # the chain of events outside any cascade (cascade ids start at 1)
_OUTSIDE_LOCK = 0x63686964616F  # "chidao": PostgreSQL advisory lock of that chain


def lock_outside(session: Session) -> None:
    """Take, until commit, the lock of the chain of events outside any cascade (PostgreSQL; SQLite's
    write transactions are one at a time already). Sign-ins take it first, so that counting a person's
    failures and recording the next one are one step."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(select(func.pg_advisory_xact_lock(_OUTSIDE_LOCK)))


def _head(session: Session, cascade_id: int | None) -> tuple[int, str]:
    """The next seq and the previous hash; for a cascade, under its lock for the rest of the transaction."""
    heads: dict[int, tuple[object, int, str]] = session.info.setdefault(_HEADS, {})
    transaction = session.get_transaction()
    held = heads.get(cascade_id if cascade_id is not None else _OUTSIDE)
    if held is not None and held[0] is transaction:
        return held[1], held[2]
    if session.get_bind().dialect.name != "sqlite":  # SQLite: the transaction holds the write lock already
        if cascade_id is not None:
            session.execute(select(Cascade.id).where(Cascade.id == cascade_id).with_for_update())
        else:  # events outside any cascade (sign-ins, accounts) have no row to lock: a lock of their own
            lock_outside(session)
    # Read on the connection: no flush needed (this transaction has recorded no event of this chain yet, or
    # its head would be known), and no ORM on the path every clerk's report takes.
    if cascade_id is None:
        last = session.connection().execute(_OUTSIDE_HEAD).first()
    else:
        last = session.connection().execute(_CASCADE_HEAD, {"cascade": cascade_id}).first()
    return (last[0] + 1, last[1]) if last else (1, GENESIS)


_HISTORIES = "chidao_histories"


def history(session: Session, cascade_id: int) -> list[Event]:
    """A cascade's events in order, read once per transaction: an auditor's timeline, state at a moment and
    verification in one transaction read the same snapshot (54,000 events at national size); an event recorded
    since drops what was read."""
    kept: dict[int, tuple[object, list[Event]]] = session.info.setdefault(_HISTORIES, {})
    held = kept.get(cascade_id)
    if held is not None and held[0] is session.get_transaction():
        return list(held[1])
    events = list(session.scalars(select(Event).where(Event.cascade_id == cascade_id).order_by(Event.seq)))
    kept[cascade_id] = (session.get_transaction(), events)
    return list(events)
