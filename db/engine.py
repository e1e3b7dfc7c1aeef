"""Engines and sessions; SQLite gets foreign keys, WAL and a busy timeout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per URL and process."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (below); the driver must not open transactions on its own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take SQLite's write lock at BEGIN: a transaction that read first and then wants to write
    would otherwise fail at once under a concurrent writer instead of waiting its turn."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    factory = sessionmaker(engine_for(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
