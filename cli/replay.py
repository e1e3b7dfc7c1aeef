"""`chidao replay`: a cascade's history from its event log, its state at a moment, proof the record holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from chidao.settings import settings
from cli.common import clear_errors, database, emit_json


@click.command()
@click.argument("cascade_id", type=int)
@click.option("--verify", "check", is_flag=True, help="Re-derive every letter and check the record: exit 1 if it fails")
@click.option(
    "--deep",
    is_flag=True,
    help="With --verify: also draw every issued PDF again and validate its signatures (about 80 ms a PDF, all cores)",
)
@click.option(
    "--at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="The state at this moment (Vietnam time)"
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write --format html")
@click.option("--flow-runs", is_flag=True, help="List the Prefect flow runs involved, with their states")
def replay(cascade_id: int, check: bool, deep: bool, at: Any, fmt: str, output: Path | None, flow_runs: bool) -> None:
    """A cascade's history from its event log; --at, its state then; --verify, proof the record holds (each
    issued PDF by its SHA-256 in the chain; --deep, each also drawn again and its signatures validated)."""
    from zoneinfo import ZoneInfo

    from chidao.audit import timeline, verify
    from chidao.flowruns import read_flow_runs, run_ids
    from chidao.replay import render_replay_page, state_at
    from db.engine import transaction

    zone = ZoneInfo(settings().timezone)
    moment = at.replace(tzinfo=zone) if at is not None else None
    if fmt == "html" and output is None:
        raise click.UsageError("--format html needs --output FILE")
    if deep and not check:
        raise click.UsageError("--deep is a kind of --verify: chidao replay N --verify --deep")
    with clear_errors(), transaction(database()) as session:
        events = timeline(session, cascade_id)  # an unknown cascade is one clear error
        verification = verify(session, cascade_id, deep=deep) if check else None
        runs = run_ids(session, cascade_id)
        page = render_replay_page(session, cascade_id, zone, moment) if fmt == "html" else None
        state = state_at(session, cascade_id, moment) if moment is not None and fmt != "html" else None
        rows = [
            {
                "seq": e.seq,
                "at": e.at.astimezone(zone).isoformat(timespec="seconds"),
                "actor": e.actor,
                "kind": e.kind,
                "letter": e.letter_id,
                "flow_run": e.flow_run_id,
                "payload": json.loads(e.payload),
            }
            for e in events
        ]
    prefect_runs = read_flow_runs(runs) if flow_runs else []
    if page is not None and output is not None:
        output.write_text(page, encoding="utf-8")
        click.echo(f"Wrote {output}: {len(rows)} events, the tree and every letter of cascade {cascade_id}.")
    elif fmt == "json":
        data: dict[str, Any] = state.to_data() if state is not None else {"cascade": cascade_id, "events": rows}
        if flow_runs:
            data["flow_runs"] = [r.to_data() for r in prefect_runs]
        if verification is not None:
            data |= {"verified": verification.holds, "problems": [str(p) for p in verification.problems]}
        emit_json(data)
    elif state is not None and moment is not None:
        click.echo(f"Cascade {cascade_id} at {moment:%d/%m/%Y %H:%M}:")
        for unit, status in state.letters.items():
            click.echo(f"  {unit:<22} {status}")
        click.echo(
            f"  reached: {len(state.received)} unit(s); reported: {len(state.reported)} "
            f"({sum(v == 'late' for v in state.reported.values())} late); overdue: {', '.join(state.overdue) or 'none'}"
        )
    else:
        for e in rows:
            when = e["at"].replace("T", " ")[:16]
            letter = f" letter {e['letter']}" if e["letter"] else ""
            click.echo(f"{e['seq']:>5}  {when}  {e['actor']:<24} {e['kind']:<18}{letter}")
    if fmt == "text":
        if flow_runs:
            click.echo(f"Prefect flow runs ({len(prefect_runs)}):")
            for r in prefect_runs:
                when = r.start.astimezone(zone).strftime("%d/%m/%Y %H:%M") if r.start else ""
                click.echo(f"  {r.id}  {r.flow:<10} {r.name:<28} {r.state:<10} {when}  {r.url or ''}".rstrip())
        elif runs:
            click.echo(f"{len(runs)} Prefect flow run(s) recorded; --flow-runs lists their states.")
    if verification is not None:
        if not verification.holds:
            first = verification.problems[0]
            more = len(verification.problems) - 1
            click.echo(
                f"error: the record of cascade {cascade_id} does not hold: {first}"
                + (f" (and {more} more problem(s))" if more else ""),
                err=True,
            )
            sys.exit(1)
        click.echo(f"Verified: {verification.summary()}", err=fmt == "json")
