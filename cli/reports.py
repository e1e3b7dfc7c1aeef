"""`chidao reports` and `chidao remind`: reports owed back up, their deadlines, reminders and consolidation."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from chidao.settings import settings
from cli.common import clear_errors, database, emit_json, fail, refusals


@click.group()
def reports() -> None:
    """Reports owed back up: submit them, follow them."""


@reports.command("submit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--as", "user", required=True, help="Reporter's id, as the hierarchy names it")
@click.option("--request", "request_id", type=int, help="The report request (see 'reports status')")
@click.option("--cascade", "cascade_id", type=int, help="With --unit, instead of --request")
@click.option("--unit", help="With --cascade: the unit reporting")
def reports_submit(file: str, user: str, request_id: int | None, cascade_id: int | None, unit: str | None) -> None:
    """Submit a unit's report (YAML, or Markdown with '## Kết quả thực hiện', '## Số liệu', …)."""
    from chidao import reporting
    from db.engine import transaction
    from reports.content import load_report

    if request_id is None and (cascade_id is None or unit is None):
        fail("give --request ID, or --cascade ID and --unit CODE", 2)
    with clear_errors():
        content, source = load_report(file)
    url = database()
    with refusals(url), transaction(url) as session:
        request = reporting.find_request(session, request_id, cascade_id, unit)
        report = reporting.submit(session, request, user, content, source)
        state = "late" if report.late else "on time"
        kind = "Report" if report.version == 1 else f"Correction (version {report.version})"
        message = f"{kind} of {request.unit_code} received {state} for request {request.id}."
    click.echo(message)
    _consolidate_due(None)


def _consolidate_due(cascade_id: int | None, day: date | None = None) -> None:
    """Draft the consolidated reports that are due, and say which, for their approvers."""
    from chidao.approval import today
    from chidao.consolidation import consolidate, consolidate_all
    from db.engine import transaction

    with transaction(database()) as session:
        when = day or today()
        drafted = consolidate(session, cascade_id, when) if cascade_id else consolidate_all(session, when)
        for record in drafted:
            click.echo(f"Consolidated report {record.id} of {record.unit_code} drafted; it waits for approval.")


@reports.command("request")
@click.argument("cascade_id", type=int)
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The issuer's own deadline")
@click.option("--as", "user", required=True, help="An approver of the cascade's issuing unit")
def reports_request(cascade_id: int, due: Any, user: str) -> None:
    """Ask for the reports of a directive that said 'on request': every level gets its deadline and a notice."""
    from datetime import UTC, datetime

    from chidao.approval import today
    from chidao.dispatch import smtp_config
    from chidao.reminders import demand

    if due.date() < today():
        fail(f"--due {due:%d/%m/%Y} has already passed", 2)
    url = database()
    with refusals(url), clear_errors():
        notices = demand(url, smtp_config(), cascade_id, user, due.date(), datetime.now(UTC))
    sent = sum(1 for n in notices if n.status == "sent")
    click.echo(f"Reports asked for by {due:%d/%m/%Y}: {len(notices)} unit(s) given their deadline, {sent} notified.")


@reports.command("consolidate")
@click.argument("cascade_id", type=int)
@click.option("--at", type=click.DateTime(["%Y-%m-%d"]), help="As of this day (default: today in Vietnam)")
def reports_consolidate(cascade_id: int, at: Any) -> None:
    """Draft the BÁO CÁO of every unit whose units have all reported or whose own deadline has come."""
    _consolidate_due(cascade_id, at.date() if at else None)


@click.command()
@click.option(
    "--at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="Sweep as of this moment (Vietnam time)"
)
def remind(at: Any) -> None:
    """One reminder sweep: due within the directive's days, overdue, and escalations; each sent once."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from flows.remind import remind as sweep
    from flows.runs import inline

    moment = at.replace(tzinfo=ZoneInfo(settings().timezone)) if at else datetime.now(UTC)
    database()
    with inline():
        report = sweep(at=moment)  # a Prefect flow run, in the embedded default too
    day = datetime.fromisoformat(report["day"]).strftime("%d/%m/%Y")
    if not report["working_day"]:
        click.echo(f"{day} is not a working day: nobody is reminded.")
    else:
        click.echo(
            f"Sweep of {day}: {report['due_soon']} reminder(s) before the deadline, "
            f"{report['overdue']} overdue, {report['escalation']} escalation(s)."
        )
        for kind, unit, to, status in report["not_sent"]:
            click.echo(f"  {kind} for {unit} <{to}>: {status}", err=True)
    for letter_id, unit in report["drafted"]:
        click.echo(f"Consolidated report {letter_id} of {unit} drafted; it waits for approval.")


_STATE_WORDS = {
    "received": "đã báo cáo",
    "late": "báo cáo muộn",
    "overdue": "QUÁ HẠN",
    "due": "chưa đến hạn",
    "on_request": "khi có yêu cầu",
    "not_owed": "chưa nhận văn bản",
}


@reports.command("status")
@click.argument("cascade_id", type=int)
@click.option("--at", type=click.DateTime(["%Y-%m-%d"]), help="As of this day (default: today in Vietnam)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="With --format html: the file to write")
def reports_status(cascade_id: int, at: Any, as_json: bool, fmt: str, output: str | None) -> None:
    """The hierarchy as a tree with each unit's letter and report state, counts per level, overdue units."""
    from chidao.approval import today
    from chidao.status import cascade_status, render_status_page
    from db.engine import transaction
    from hierarchy.tree import render_tree

    day = at.date() if at else today()
    with clear_errors(), transaction(database()) as session:
        status, hierarchy = cascade_status(session, cascade_id, day)
    if as_json:
        emit_json(status.to_data())
        return
    states = {u.code: u for u in status.units}
    if fmt == "html":
        if not output:
            fail("--format html needs --output FILE", 2)

        page = render_status_page(status, hierarchy)
        Path(output or "").write_text(page, encoding="utf-8")
        click.echo(f"Status of cascade {cascade_id} written to {output}")
        return

    def label(unit: Any) -> str:
        state = states[unit.code]
        letter = f", văn bản: {state.letter}" if state.letter else ""
        due = f", hạn {state.due}" if state.due else ""
        late = f", muộn {state.days_late} ngày làm việc" if state.days_late else ""
        return f"{unit.name} ({unit.code}): {_STATE_WORDS[state.report]}{due}{late}{letter}"

    click.echo(render_tree(hierarchy, status.units[0].code, label=label))
    click.echo("")
    for depth, counts in enumerate(status.levels()):
        click.echo(
            f"Level {depth}: {counts['units']} unit(s), {counts['letters_sent']} letter(s) sent, "
            f"{counts['received']} on time, {counts['late']} late, {counts['overdue']} overdue, "
            f"{counts['due']} not yet due"
        )
    overdue = status.overdue()
    click.echo(f"{len(overdue)} overdue" + (":" if overdue else "."))
    for u in overdue:
        click.echo(f"  {u.name} ({u.code}): due {u.due}, {u.days_late} working day(s) late")
