"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import db.models  # noqa: F401  (registers the tables)
from db.base import Base
from db.engine import engine_for
from db.migrate import upgrade


def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    with engine_for(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)


def test_upgrading_a_database_with_rows_keeps_them_all(sqlite_url: str) -> None:
    """0005 rebuilds 'letters' on SQLite while recipients and events point at it."""
    upgrade(sqlite_url, "0004")
    rows = [
        "INSERT INTO hierarchy_snapshots VALUES (1, 'h', 'H', 'v', 1, '{}', '2024-01-01')",
        "INSERT INTO directives VALUES (1, 'd', '90.S', 's', '{}', '2024-01-01')",
        "INSERT INTO cascades VALUES (1, 1, 1, '90.S', '2024-01-01', 'drafting', '2024-01-01')",
        "INSERT INTO letters (id, cascade_id, unit_code, parent_id, depth, status, doc_type, notation, subject, "
        "content, markdown, sha256, created_at) VALUES (1, 1, '90.S', NULL, 0, 'sent', 'Công văn', 'X', 's', '{}', "
        "'m', 'h', '2024-01-01'), (2, 1, '901.P', 1, 1, 'draft', 'Công văn', 'Y', 's', '{}', 'm', 'h', '2024-01-01')",
        "INSERT INTO recipients (id, letter_id, unit_code, name, email, position, status, attempts) "
        "VALUES (1, 1, '901.P', 'P', 'p@x.example', 0, 'sent', 1)",
        "INSERT INTO events (id, cascade_id, seq, at, actor, kind, letter_id, payload, prev_hash, hash) "
        "VALUES (1, 1, 1, '2024-01-01', 'a', 'letter.drafted', 2, '{}', 'p', 'h')",
    ]
    with engine_for(sqlite_url).begin() as connection:
        for row in rows:
            connection.exec_driver_sql(row)
    upgrade(sqlite_url)
    with engine_for(sqlite_url).connect() as connection:
        assert connection.exec_driver_sql("SELECT id, parent_id, kind FROM letters ORDER BY id").fetchall() == [
            (1, None, "letter"),
            (2, 1, "letter"),
        ]
        assert connection.exec_driver_sql("SELECT count(*) FROM recipients").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
