"""`chidao serve`: the web desk under uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import clear_errors, database


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
def serve(host: str, port: int, hierarchy_file: str | None, trusted_proxies: tuple[str, ...]) -> None:
    """The web desk: approvers sign, commune clerks report, the department follows, auditors replay."""
    import uvicorn

    from web.app import create_app

    url = database()
    with clear_errors():  # the served hierarchy is read (and checked) once, here
        app = create_app(url, Path(hierarchy_file) if hierarchy_file else None)
    click.echo(f"The desk is at http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(  # sign-in throttling counts by address: only a named proxy may say whose a request is
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies) or None,
    )
