"""Alembic, driven from code: `chidao db upgrade` and the embedded default both call upgrade()."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from db.engine import engine_for

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class MigrationBroken(RuntimeError):
    """A migration left rows pointing at nothing; it was rolled back."""


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at url to the newest schema (idempotent).

    On SQLite a migration may rebuild a table, which foreign keys forbid while other tables point at
    it: they are switched off outside the transaction (the only place the pragma takes effect), every
    reference is checked before the commit, and they are switched back on.
    """
    config = alembic_config(url)
    with engine_for(url).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver = connection.connection.driver_connection
        assert driver is not None
        if sqlite:
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                    raise MigrationBroken(f"migration to {revision} would leave dangling references: {broken[:5]}")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")
