"""The `chidao` command: a thin shell over the services in chidao/, one module per command group.

Each module defines its group or commands; this one gathers them under `main`. What they share (messages,
exit codes, the database) is in cli.common.
"""

from __future__ import annotations

import click

from chidao.settings import quiet_prefect
from cli import approval, cascade, database, demo, hierarchy, letters, pki, replay, reports, serve, users


@click.group()
@click.version_option(package_name="chidao")
def main() -> None:
    """chidao: cascade an official directive down the administrative hierarchy."""
    quiet_prefect()


for command in (
    hierarchy.hierarchy,
    cascade.cascade,
    letters.letters,
    approval.approve,
    approval.reject,
    reports.reports,
    reports.remind,
    replay.replay,
    approval.dispatch,
    approval.smtp_sink,
    users.users,
    serve.serve,
    database.db,
    demo.demo,
    pki.pki,
    pki.verify,
):
    main.add_command(command)
