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
    guard_temporary_server()


def guard_temporary_server() -> None:
    """In the embedded default the first flow run starts a temporary Prefect server as a child process, stopped
    when the command exits; killed outright (SIGKILL), the command would leave it running. So the command marks
    its environment (the server inherits it) and starts a watcher (cli/watcher.py) that stops what carries the
    mark once the command is gone. Nothing to guard with a Prefect server of one's own, or without /proc."""
    import os
    import sys
    from pathlib import Path

    from cli.watcher import MARK

    if os.environ.get("PREFECT_API_URL") or os.environ.get(MARK) or not Path("/proc/self/environ").exists():
        return
    os.environ[MARK] = str(os.getpid())
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    os.posix_spawn(  # no Popen to wait for: the watcher outlives the command, in a session of its own
        sys.executable,
        [sys.executable, str(Path(__file__).with_name("watcher.py")), str(os.getpid())],
        os.environ,
        file_actions=quiet,
        setsid=True,
    )


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
