"""Engines and sessions; SQLite gets foreign keys, WAL and a busy timeout.

Two kinds of transaction. transaction() writes: on SQLite it takes the write lock at BEGIN (a transaction
that reads and then writes must wait its turn, not fail). reading() only reads: in WAL mode a deferred
transaction reads a consistent snapshot while a writer writes, so the desk's pages neither queue behind each
other and every submission, across worker processes, nor sleep in SQLite's busy handler (seconds at 50
clients). Its connections are query-only: a page that tried to write would fail loudly instead of writing
outside its lock. Other databases read in an ordinary transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event
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
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=16)
def _sessions(engine: Engine) -> sessionmaker[Session]:
    """One factory per engine: each sessionmaker makes a Session subclass of its own, and the first session of
    a new class builds its event dispatch (0.4 ms, as much as a report's whole transaction otherwise costs)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with _sessions(engine_for(url))() as session, session.begin():
        yield session


@contextmanager
def reading(url: str) -> Iterator[Session]:
    """A session that reads one consistent state of the database and writes nothing."""
    if not url.startswith("sqlite"):
        with transaction(url) as session:
            yield session
        return
    with _sessions(_reader_for(url))() as session:  # closing it rolls back: the snapshot ends with the page
        yield session


def first_row(url: str, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
    """The first row a query finds, read as reading() reads, without an ORM session: for the query the desk
    asks on every request (who is signed in), where a session's bookkeeping cost more than the query."""
    if not url.startswith("sqlite"):
        with transaction(url) as session:
            return session.execute(statement, params).first()
    with _reader_for(url).connect() as connection:  # closing it rolls back
        return connection.execute(statement, params).first()


@lru_cache(maxsize=8)
def _reader_for(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _query_only)
    event.listen(engine, "begin", _deferred)
    return engine


def _query_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy says BEGIN (below); the driver opens nothing itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _deferred(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN DEFERRED")
