"""Alembic environment: uses the connection handed in by db.migrate, or the configured URL."""

from __future__ import annotations

from alembic import context

import db.models  # noqa: F401  (registers the tables on Base.metadata)
from db.base import Base
from db.engine import engine_for

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    with engine_for(config.get_main_option("sqlalchemy.url") or "").begin() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
