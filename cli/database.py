"""`chidao db`: the database's schema."""

from __future__ import annotations

import click

from cli.common import database


@click.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate chidao's database (CHIDAO_DATABASE_URL) to the newest schema."""
    url = database()
    click.echo(f"Database at {url.split('@')[-1]} is up to date.")
