"""Outgoing registers: the next number of a unit's year, safe under concurrent approvals."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import Register


def next_number(session: Session, unit_code: str, year: int) -> int:
    """Take the next number of the unit's register for the year (01 on 1 January).

    The increment is one UPDATE … RETURNING on the register row: PostgreSQL row-locks it and SQLite
    holds its write lock, so concurrent approvals get consecutive, distinct numbers; a transaction
    that rolls back gives its number back, so none is skipped.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Register).values(unit_code=unit_code, year=year, last_number=0).on_conflict_do_nothing())
    number: int = session.execute(
        update(Register)
        .where(Register.unit_code == unit_code, Register.year == year)
        .values(last_number=Register.last_number + 1)
        .returning(Register.last_number)
    ).scalar_one()
    return number
