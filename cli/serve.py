"""`chidao serve`: the web desk under uvicorn, in one process or several."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from cli.common import clear_errors, database

MAX_DEFAULT_WORKERS = 8  # each worker holds the served hierarchy (a national one is large); more on request


def default_workers() -> int:
    """One worker process per core this process may run on, at least 2 (a page waiting on the database does
    not stall the others), at most MAX_DEFAULT_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(2, min(cores, MAX_DEFAULT_WORKERS))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--hierarchy",
    "hierarchy_file",
    type=click.Path(dir_okay=False, exists=True),
    help="The hierarchy new cascades start on (default: CHIDAO_HIERARCHY)",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    help="Address of a reverse proxy whose X-Forwarded-For names the user (repeatable); else the peer is the user",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes serving the desk (default: one per core, at least 2, at most 8); 1: a single process",
)
def serve(
    host: str, port: int, hierarchy_file: str | None, trusted_proxies: tuple[str, ...], workers: int | None
) -> None:
    """The web desk: approvers sign, commune clerks report, the department follows, auditors replay."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from web.app import check_served, create_app

    url = database()
    hierarchy = Path(hierarchy_file).resolve() if hierarchy_file else None
    workers = workers or default_workers()
    # sign-in throttling counts by address: only a named proxy may say whose a request is
    proxied, allowed = bool(trusted_proxies), list(trusted_proxies) or None
    if workers == 1:
        with clear_errors():  # the served hierarchy is read (and checked) once, here
            app = create_app(url, hierarchy)
        click.echo(f"The desk is at http://{host}:{port}/ (Ctrl-C to stop)")
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=proxied, forwarded_allow_ips=allowed)
        return
    with clear_errors():  # checked once, here: a worker that fails to start would only be started again
        check_served(url, hierarchy)
    # the workers (new processes) build the desk from the environment: the same database and hierarchy
    os.environ["CHIDAO_DATABASE_URL"] = url
    if hierarchy is not None:
        os.environ["CHIDAO_HIERARCHY"] = str(hierarchy)
    click.echo(f"The desk is at http://{host}:{port}/, {workers} worker processes (Ctrl-C to stop)")
    config = uvicorn.Config(
        "web.app:from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=proxied,
        forwarded_allow_ips=allowed,
    )
    # as uvicorn.run does for workers, but listening at once: while the workers start (seconds), a browser's
    # connection waits in the queue instead of being refused
    sock = config.bind_socket()
    sock.listen(config.backlog)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the workers are stopped, as by uvicorn.run
        Multiprocess(config, sockets=[sock]).run()
