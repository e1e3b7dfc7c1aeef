"""Read-only transactions for the desk's pages.

db.engine's transaction() takes SQLite's write lock at BEGIN (a transaction that reads and then writes must
wait its turn, not fail). A page that only reads needs no lock at all: in WAL mode a deferred transaction
reads a consistent snapshot while a writer writes. Taking the write lock for every page made the desk's
readers queue behind each other and behind every submission, across worker processes, sleeping in SQLite's
busy handler (seconds at 50 clients). These connections are also query-only: a page that tried to write
would fail loudly instead of writing outside its lock. Other databases read in an ordinary transaction.

(This belongs beside transaction() in db/engine.py, as `reading(url)`; it is here until it moves there.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction


@contextmanager
def reading(url: str) -> Iterator[Session]:
    """A session that reads one consistent state of the database and writes nothing."""
    if not url.startswith("sqlite"):
        with transaction(url) as session:
            yield session
        return
    with _sessions(url)() as session:  # closing it rolls back: the snapshot ends with the page
        yield session


def first_row(url: str, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
    """The first row a query finds, read as reading() reads, without an ORM session: for the query the desk
    asks on every request (who is signed in), where a session's bookkeeping cost more than the query."""
    if not url.startswith("sqlite"):
        with transaction(url) as session:
            return session.execute(statement, params).first()
    with _engine(url).connect() as connection:  # closing it rolls back
        return connection.execute(statement, params).first()


@lru_cache(maxsize=8)
def _sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker(_engine(url), expire_on_commit=False)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
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
