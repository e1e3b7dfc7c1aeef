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
