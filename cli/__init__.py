"""The `chidao` command: a thin shell over the library; every command is a function tests can call."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from chidao.settings import quiet_prefect, settings
from chidao.sources import InputError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn expected failures into one message per problem and a non-zero exit, never a traceback."""
    from db.cascades import CascadeNotFound
    from db.letters import LetterNotFound
    from letters.plan import NothingToSend

    try:
        yield
    except InputError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    except NothingToSend as exc:
        fail(str(exc), 2)
    except (LetterNotFound, CascadeNotFound) as exc:
        fail(str(exc))


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group()
@click.version_option(package_name="chidao")
def main() -> None:
    """chidao: cascade an official directive down the administrative hierarchy."""
    quiet_prefect()


# --- hierarchy ---------------------------------------------------------------------------------


@main.group()
def hierarchy() -> None:
    """Check and look at hierarchy files."""


@hierarchy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def hierarchy_validate(file: str) -> None:
    """Check a hierarchy file; every problem names the line, the unit and the field."""
    from chidao.sources import read_source
    from hierarchy.load import load_hierarchy

    with clear_errors():
        h = load_hierarchy(file)
        normalised = read_source(file).normalised
    issuers = sum(1 for code in h.graph if h.has_children(code))
    depth = sum(1 for _ in h.levels(h.root))
    click.echo(f"{file}: valid — {len(h)} units, {depth} levels, {issuers} units with units under them")
    if normalised:
        click.echo(f"note: {normalised} text value(s) were not in NFC and were normalised")


@hierarchy.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--root", help="Code of the unit to start from (default: the hierarchy's root)")
@click.option("--depth", type=click.IntRange(min=0), help="Levels to show below the root")
def hierarchy_show(file: str, root: str | None, depth: int | None) -> None:
    """Print the hierarchy as a tree, children in Vietnamese alphabetical order."""
    from hierarchy.graph import UnknownUnit
    from hierarchy.load import load_hierarchy
    from hierarchy.tree import render_tree

    with clear_errors():
        h = load_hierarchy(file)
    try:
        click.echo(render_tree(h, root, depth))
    except UnknownUnit as exc:
        fail(f"--root: {exc}", 2)


def _keys(text: str | None) -> list[str] | None:
    return None if text is None else [k for k in text.split(",") if k.strip()]


@hierarchy.command("import")
@click.argument("source", type=click.Choice(["vietnam-provinces"]))
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="The hierarchy YAML file to write")
@click.option(
    "--shape",
    type=click.Choice(["2025", "pre2025"]),
    default="2025",
    show_default=True,
    help="2025: 34 provinces, communes (package 2025.10.1); pre2025: 63 provinces, districts, communes (0.6.0)",
)
@click.option(
    "--departments",
    help="Comma-separated Sở under each committee, the first carrying the cascade: STTTT, SKHCN, SVHTTDL, SGDDT "
    "(default: STTTT pre2025, SKHCN 2025)",
)
@click.option(
    "--enterprises",
    help="Comma-separated press and enterprises under it: media, post, viettelpost, vnpt, viettel, mobifone "
    "(default: all; '' for none)",
)
@click.option("--district-branches", is_flag=True, help="pre2025: post, VNPT, Viettel branches under each district")
def hierarchy_import(
    source: str, output: str, shape: str, departments: str | None, enterprises: str | None, district_branches: bool
) -> None:
    """Make the national hierarchy (ministry, provinces, departments, communes with official codes).

    The package (GPL-3.0) is installed in a throwaway virtualenv, once, under CHIDAO_IMPORTER_CACHE (default
    DATA_DIR/importers), never into chidao's; the file is written only if it is valid and its provinces,
    districts and communes are exactly the package's.
    """
    from hierarchy.importers import ImportFailed, import_vietnam_provinces

    try:
        result = import_vietnam_provinces(
            output,
            shape,
            departments=_keys(departments),
            enterprises=_keys(enterprises),
            district_branches=district_branches,
            progress=lambda message: click.echo(message, err=True),
        )
    except ImportFailed as exc:
        fail(f"{exc}\nnothing written to {output}")
        return
    w, p = result.written, result.package
    click.echo(
        f"{result.output}: valid — {result.units} units: {w.provinces} provinces, {w.districts} districts, "
        f"{w.communes} communes ({result.seconds:.0f} s)"
    )
    click.echo(
        f"vietnam-provinces {result.version} (data of {result.data_version}): {p.provinces} provinces, "
        f"{p.districts} districts, {p.communes} communes — the same codes"
    )


# --- cascade -----------------------------------------------------------------------------------


@main.group()
def cascade() -> None:
    """Plan and start cascades."""


def _inputs_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--date", "draft_date", type=click.DateTime(["%Y-%m-%d"]), help="Date on the drafts (YYYY-MM-DD)"
    )(func)
    func = click.option(
        "--hierarchy", "hierarchy_file", required=True, type=click.Path(dir_okay=False), help="Hierarchy YAML file"
    )(func)
    return click.argument("directive", type=click.Path(dir_okay=False))(func)


@cascade.command("plan")
@_inputs_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def cascade_plan(directive: str, hierarchy_file: str, draft_date: Any, as_json: bool) -> None:
    """Show what would be drafted at each level; writes nothing."""
    from chidao.cascade import draft_date_for, load_inputs
    from letters.plan import plan_cascade

    with clear_errors():
        d, h = load_inputs(directive, hierarchy_file, draft_date.date() if draft_date else None)
        plan = plan_cascade(d, h, draft_date_for(d, draft_date.date() if draft_date else None))
    levels = [
        [
            {
                "unit": dr.letter.unit,
                "name": h.unit(dr.letter.unit).name,
                "area": h.unit(dr.letter.unit).area,
                "recipients": len(dr.letter.recipient_units),
                "sections": len(dr.letter.sections),
            }
            for dr in level
        ]
        for level in plan.levels
    ]
    if as_json:
        emit_json({"letters": plan.count, "levels": levels, "silent": plan.silent, "unreached": plan.unreached})
        return
    for depth, level in enumerate(levels):
        click.echo(f"Level {depth}: {len(level)} letter(s)")
        for entry in level[:10]:
            click.echo(
                f"  {entry['unit']:<12} {entry['name']} ({entry['area']}): "
                f"{entry['sections']} section(s) to {entry['recipients']} recipient(s)"
            )
        if len(level) > 10:
            click.echo(f"  … and {len(level) - 10} more")
    click.echo(f"{plan.count} letter(s) would be drafted.")
    _warn_gaps(plan.silent, plan.unreached)


@cascade.command("start")
@_inputs_options
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000), help="Letters per task")
@click.option("--as", "actor", default="chidao", show_default=True, help="Who starts it, for the event log")
@click.option("--approved-by", help="The department's letter was signed on paper by this approver: number it now")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def cascade_start(
    directive: str,
    hierarchy_file: str,
    draft_date: Any,
    batch_size: int,
    actor: str,
    approved_by: str | None,
    as_json: bool,
) -> None:
    """Run the cascade flow: store the hierarchy snapshot and draft a letter at every level."""
    summary = start_cascade(
        directive,
        hierarchy_file,
        draft_date.date() if draft_date else None,
        batch_size,
        actor,
        approved_by=approved_by,
        show_progress=not as_json,
    )
    if as_json:
        emit_json(summary.model_dump() | {"letters": summary.letters})
        return
    state = "started" if summary.created else "already existed; nothing created twice"
    click.echo(f"Cascade {summary.cascade_id} {state}.")
    for depth, count in enumerate(summary.letters_per_level):
        click.echo(f"  level {depth}: {count} letter(s)")
    click.echo(f"{summary.letters} letter(s) in the cascade, {summary.letters_created} drafted now.")
    _warn_gaps(summary.silent, summary.unreached)
    click.echo(f"See them with: chidao letters list --cascade {summary.cascade_id}")


def _warn_gaps(silent: list[str], unreached: list[str]) -> None:
    """Units with units under them that will write nothing: the department should know before it signs."""
    if silent:
        click.echo(f"{len(silent)} unit(s) reached have nothing to pass down: {', '.join(silent)}")
    if unreached:
        click.echo(
            f"{len(unreached)} unit(s) with units under them are not addressed by any section: {', '.join(unreached)}"
        )


def start_cascade(
    directive: str,
    hierarchy_file: str,
    draft_date: date | None,
    batch_size: int = 200,
    actor: str = "chidao",
    *,
    approved_by: str | None = None,
    show_progress: bool = False,
) -> Any:
    """Validate the inputs and the signer (writing nothing if anything is wrong), then run the flow."""
    from chidao import progress
    from chidao.approval import approvers_of
    from chidao.cascade import draft_date_for, load_inputs
    from letters.plan import first_letter

    with clear_errors():
        d, h = load_inputs(directive, hierarchy_file, draft_date)
        first_letter(d, h, draft_date_for(d, draft_date))
    if approved_by and approved_by not in approvers_of(h, d.issuer):
        fail(
            f"--approved-by: {approved_by!r} is not an approver of {d.issuer} "
            f"(approvers: {', '.join(approvers_of(h, d.issuer))})",
            2,
        )
    from flows.cascade import CascadeParams
    from flows.cascade import cascade as cascade_flow

    params = CascadeParams(
        directive=directive,
        hierarchy=hierarchy_file,
        draft_date=draft_date,
        batch_size=batch_size,
        actor=actor,
        approved_by=approved_by,
    )
    if not (show_progress and sys.stderr.isatty()):
        return cascade_flow(params)
    with click.progressbar(length=1, label="Drafting letters", file=sys.stderr) as bar:

        def update(_what: str, done: int, total: int) -> None:
            bar.length = max(total, done)
            bar.update(done - bar.pos)

        stop = progress.listen(update)
        try:
            return cascade_flow(params)
        finally:
            stop()


# --- letters -----------------------------------------------------------------------------------


@main.group()
def letters() -> None:
    """List and show letters."""


@letters.command("list")
@click.option("--cascade", "cascade_id", type=int, help="Only this cascade")
@click.option("--unit", help="Only this unit's letters (code)")
@click.option(
    "--status", type=click.Choice(["draft", "approved", "rejected", "sent"]), help="Only letters in this state"
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_list(cascade_id: int | None, unit: str | None, status: str | None, as_json: bool) -> None:
    """List letters, level by level."""
    from db.cascades import letter_content
    from db.engine import transaction
    from db.letters import list_letters

    url = _database()
    with transaction(url) as session:
        rows = list_letters(session, cascade_id=cascade_id, unit=unit, status=status)
        entries = []
        for row in rows:
            content = letter_content(row)
            entries.append(
                {
                    "id": row.id,
                    "cascade": row.cascade_id,
                    "unit": row.unit_code,
                    "issuer": content.issuer_name,
                    "area": content.place,
                    "depth": row.depth,
                    "status": row.status,
                    "reference": content.reference,
                    "subject": row.subject,
                    "recipients": len(content.recipient_units),
                    "sha256": row.sha256,
                }
            )
    if as_json:
        emit_json(entries)
        return
    if not entries:
        click.echo("No letters.")
        return
    for e in entries:
        click.echo(
            f"{e['id']:>6}  c{e['cascade']}  L{e['depth']}  {e['status']:<8} {e['unit']:<12} "
            f"Số: {e['reference']:<16} {e['issuer']} ({e['area']}) → {e['recipients']} recipient(s)"
        )
    click.echo(f"{len(entries)} letter(s).")


@letters.command("show")
@click.argument("letter_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["md", "html", "docx"]), default="md", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout")
def letters_show(letter_id: int, fmt: str, output: str | None) -> None:
    """Print a letter as Markdown, as the printed page (HTML), or write it as a Word file (DOCX)."""
    from db.cascades import letter_content
    from db.engine import transaction
    from db.letters import get_letter
    from letters.docx import render_docx
    from letters.render import render_html

    if fmt == "docx" and not output:
        fail("--format docx needs --output FILE (a Word file is not text)", 2)
    with clear_errors(), transaction(_database()) as session:
        row = get_letter(session, letter_id)
        content = letter_content(row)
        data: str | bytes
        if fmt == "docx":
            data = render_docx(content)
        elif fmt == "html":
            data = render_html(content)
        else:
            data = row.markdown
        deliveries = [(r.unit_code, r.email, r.status, r.last_error) for r in _recipients(session, row.id)]
    if output:
        Path(output).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        click.echo(f"Letter {letter_id} ({row.status}) written to {output}")
    else:
        click.echo(data, nl=False)
    if any(status != "pending" for _, _, status, _ in deliveries):
        click.echo(f"Delivery of letter {letter_id}:", err=True)
        for unit, email, status, error in deliveries:
            click.echo(f"  {status:<8} {unit:<12} <{email}>" + (f"  {error}" if error else ""), err=True)


def _recipients(session: Any, letter_id: int) -> list[Any]:
    from sqlalchemy import select

    from db.models import RecipientRecord

    query = select(RecipientRecord).where(RecipientRecord.letter_id == letter_id).order_by(RecipientRecord.position)
    return list(session.scalars(query))


@letters.command("pending")
@click.option("--as", "user", help="Only what this person may approve")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_pending(user: str | None, as_json: bool) -> None:
    """Drafts whose letter above has gone out, waiting for their unit's approver."""
    from chidao.approval import pending
    from db.cascades import letter_content
    from db.engine import transaction

    with transaction(_database()) as session:
        entries = [
            {
                "id": row.id,
                "cascade": row.cascade_id,
                "unit": row.unit_code,
                "status": row.status,
                "issuer": letter_content(row).issuer_name,
                "area": letter_content(row).place,
                "subject": row.subject,
            }
            for row in pending(session, user)
        ]
    if as_json:
        emit_json(entries)
        return
    for e in entries:
        click.echo(f"{e['id']:>6}  c{e['cascade']}  {e['status']:<8} {e['unit']:<12} {e['issuer']} ({e['area']})")
    click.echo(f"{len(entries)} letter(s) waiting" + (f" for {user}." if user else "."))


# --- approval ----------------------------------------------------------------------------------


@contextmanager
def refusals(url: str) -> Iterator[None]:
    """A refused attempt is logged in a transaction of its own, then reported; other action errors reported."""
    from chidao.approval import ApprovalError
    from chidao.refusals import Refused, record_refusal
    from chidao.reporting import ReportError
    from db.engine import transaction

    try:
        yield
    except Refused as refused:
        with transaction(url) as session:
            record_refusal(session, refused)
        fail(f"refused: {refused}")
    except (ApprovalError, ReportError) as exc:
        fail(str(exc))


def _act(action: Callable[[Any], Any]) -> Any:
    """Run an approval action in its own transaction."""
    from db.engine import transaction

    url = _database()
    with refusals(url), clear_errors(), transaction(url) as session:
        return action(session)


@main.command()
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Approver's id, as the hierarchy names it")
@click.option(
    "--edit", "edit_file", type=click.Path(dir_okay=False), help="YAML with the letter's sections (and opening/closing)"
)
@click.option("--send/--no-send", default=True, show_default=True, help="E-mail it to its recipients right away")
def approve(letter_id: int, user: str, edit_file: str | None, send: bool) -> None:
    """Sign a letter: it takes the next number of its unit's register and today's date, and goes out."""
    from chidao import approval
    from db.cascades import letter_content

    with clear_errors():
        change = approval.load_edit(edit_file) if edit_file else None

    def act(session: Any) -> str:
        record = approval.approve(session, letter_id, user, change=change)
        content = letter_content(record)
        return f"Letter {record.id} approved: Số: {content.reference}, {content.dateline}."

    click.echo(_act(act))
    if send:
        _report_dispatch([letter_id], signed=True)


@main.command()
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Approver's id, as the hierarchy names it")
@click.option("--reason", required=True, help="Why, for the drafter and the record")
def reject(letter_id: int, user: str, reason: str) -> None:
    """Send a draft back; it can be edited and approved later."""
    from chidao import approval

    def act(session: Any) -> str:
        record = approval.reject(session, letter_id, user, reason)
        return f"Letter {record.id} rejected."

    click.echo(_act(act))


@letters.command("regenerate")
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Approver's id, as the hierarchy names it")
def letters_regenerate(letter_id: int, user: str) -> None:
    """Draft a rejected or edited letter afresh from the directive, dropping the edits."""
    from chidao import approval

    def act(session: Any) -> str:
        record = approval.regenerate(session, letter_id, user)
        return f"Letter {record.id} drafted afresh; it waits for approval."

    click.echo(_act(act))


# --- reports -----------------------------------------------------------------------------------


@main.group()
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
    url = _database()
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

    with transaction(_database()) as session:
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
    url = _database()
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


@main.command()
@click.option(
    "--at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="Sweep as of this moment (Vietnam time)"
)
def remind(at: Any) -> None:
    """One reminder sweep: due within the directive's days, overdue, and escalations; each sent once."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from chidao.dispatch import smtp_config
    from chidao.reminders import sweep

    moment = at.replace(tzinfo=ZoneInfo(settings().timezone)) if at else datetime.now(UTC)
    report = sweep(_database(), smtp_config(), moment)
    day = report.day.strftime("%d/%m/%Y")
    if not report.working_day:
        click.echo(f"{day} is not a working day: nobody is reminded.")
        _consolidate_due(None, report.day)
        return
    click.echo(
        f"Sweep of {day}: {report.count('due_soon')} reminder(s) before the deadline, "
        f"{report.count('overdue')} overdue, {report.count('escalation')} escalation(s)."
    )
    for notice in report.notices:
        if notice.status != "sent":
            click.echo(f"  {notice.kind} for {notice.unit} <{notice.to}>: {notice.status}", err=True)
    _consolidate_due(None, report.day)


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
    with clear_errors(), transaction(_database()) as session:
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


# --- audit -------------------------------------------------------------------------------------


@main.command()
@click.argument("cascade_id", type=int)
@click.option("--verify", "check", is_flag=True, help="Re-derive every letter and check the record: exit 1 if it fails")
@click.option(
    "--at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="The state at this moment (Vietnam time)"
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write --format html")
@click.option("--flow-runs", is_flag=True, help="List the Prefect flow runs involved, with their states")
def replay(cascade_id: int, check: bool, at: Any, fmt: str, output: Path | None, flow_runs: bool) -> None:
    """A cascade's history from its event log; --at, its state then; --verify, proof the record holds."""
    from zoneinfo import ZoneInfo

    from chidao.audit import timeline, verify
    from chidao.flowruns import read_flow_runs, run_ids
    from chidao.replay import render_replay_page, state_at
    from db.engine import transaction

    zone = ZoneInfo(settings().timezone)
    moment = at.replace(tzinfo=zone) if at is not None else None
    if fmt == "html" and output is None:
        raise click.UsageError("--format html needs --output FILE")
    with clear_errors(), transaction(_database()) as session:
        events = timeline(session, cascade_id)  # an unknown cascade is one clear error
        verification = verify(session, cascade_id) if check else None
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


# --- mail --------------------------------------------------------------------------------------


def _report_dispatch(letter_ids: list[int] | None, signed: bool = False) -> None:
    """Send what is due and say what happened, recipient by recipient where something went wrong; just
    signed: as the desk does after a signature (queued instead when CHIDAO_DISPATCH=deployment)."""
    from chidao.dispatch import Queued, dispatch, send_signed, smtp_config

    try:
        config = smtp_config()
        outcome = send_signed(_database(), letter_ids) if signed else dispatch(_database(), config, letter_ids)
    except ValueError as exc:
        fail(str(exc), 2)
        return
    if isinstance(outcome, Queued):
        click.echo(f"Dispatch queued on the Prefect server: flow run {outcome.name} ({outcome.id}).")
        return
    click.echo(
        f"Sent {outcome.count('sent')} message(s) through {config.host}:{config.port}; "
        f"{outcome.count('failed')} failed, {outcome.count('pending')} deferred."
    )
    for d in outcome.deliveries:
        if d.status != "sent":
            click.echo(f"  letter {d.letter_id} to {d.unit} <{d.email}>: {d.status}: {d.detail}", err=True)
    if outcome.count("failed") or outcome.count("pending"):
        sys.exit(1)


@main.command()
@click.option("--letter", "letter_ids", type=int, multiple=True, help="Only this letter (repeatable)")
def dispatch(letter_ids: tuple[int, ...]) -> None:
    """Send every approved letter to the recipients that do not have it yet (CHIDAO_SMTP_URL); safe to rerun."""
    _report_dispatch(list(letter_ids) or None)


@letters.command("failed")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_failed(as_json: bool) -> None:
    """Recipients the mail server refused for good, with its reply."""
    from chidao.dispatch import failed

    rows = failed(_database())
    if as_json:
        emit_json([d.__dict__ for d in rows])
        return
    for d in rows:
        click.echo(f"letter {d.letter_id}  {d.unit:<12} <{d.email}>  {d.detail}")
    click.echo(f"{len(rows)} failed recipient(s).")


@letters.command("resend")
@click.argument("letter_id", type=int)
@click.option("--unit", help="Only this recipient (code)")
def letters_resend(letter_id: int, unit: str | None) -> None:
    """Try the failed recipients of a letter again."""
    from chidao.dispatch import resend

    count = resend(_database(), letter_id, unit)
    click.echo(f"{count} recipient(s) put back in the outbox.")
    _report_dispatch([letter_id])


@main.command("smtp-sink")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535))
@click.option("--maildir", type=click.Path(file_okay=False), help="Where to keep messages (default: DATA_DIR/mail)")
def smtp_sink(port: int, maildir: str | None) -> None:
    """A local SMTP server on 127.0.0.1 that keeps every message in a Maildir (Ctrl-C to stop)."""
    import time

    from mail.sink import start_sink

    where = Path(maildir) if maildir else settings().data_dir / "mail"
    controller = start_sink(where, port)
    click.echo(f"SMTP sink on 127.0.0.1:{port}, keeping messages in {where} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


# --- the desk ----------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Accounts of the web desk (chidao serve)."""


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("add")
@click.argument("account_id")
@click.option("--hierarchy", "hierarchy_file", type=click.Path(dir_okay=False), help="The hierarchy naming this person")
@click.option("--auditor", is_flag=True, help="Reads every cascade and changes nothing; not named by the hierarchy")
@click.option("--name", help="Full name (default: as the hierarchy names the person)")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input")
def users_add(
    account_id: str, hierarchy_file: str | None, auditor: bool, name: str | None, password_stdin: bool
) -> None:
    """Give a person an account: an approver or reporter the hierarchy names (what they may do follows from
    the hierarchy), or an auditor."""
    from chidao.accounts import AccountError, add_account, people, units_of
    from db.engine import transaction

    units: list[str] = []
    if not auditor:
        if hierarchy_file is None:
            fail("give --hierarchy FILE (the file naming this person), or --auditor", 2)
            return
        from hierarchy.load import load_hierarchy

        with clear_errors():
            h = load_hierarchy(hierarchy_file)
        named = people(h)
        if account_id not in named:
            fail(f"{hierarchy_file}: no approver or reporter has the id {account_id!r}", 2)
        name = name or named[account_id]
        units = units_of(h, account_id)
    elif not name:
        fail("an auditor's account needs --name", 2)
    assert name is not None
    password = _new_password(password_stdin)
    url = _database()
    try:
        with transaction(url) as session:
            add_account(session, account_id, name, "auditor" if auditor else "person", password)
    except AccountError as exc:
        fail(str(exc), 2)
    role = "auditor (reads everything, changes nothing)" if auditor else f"acts for {', '.join(units)}"
    click.echo(f"Account {account_id} ({name}) added: {role}.")


@users.command("passwd")
@click.argument("account_id")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input")
def users_passwd(account_id: str, password_stdin: bool) -> None:
    """Set a new password; the account's open sessions end."""
    from chidao.accounts import AccountError, set_password
    from db.engine import transaction

    password = _new_password(password_stdin)
    try:
        with transaction(_database()) as session:
            set_password(session, account_id, password)
    except AccountError as exc:
        fail(str(exc), 2)
    click.echo(f"Password of {account_id} changed; its open sessions have ended.")


@users.command("list")
def users_list() -> None:
    """The desk's accounts."""
    from sqlalchemy import select

    from db.engine import transaction
    from db.models import Account

    with transaction(_database()) as session:
        rows = session.scalars(select(Account).order_by(Account.id)).all()
        for a in rows:
            click.echo(f"{a.id:<24} {a.role:<8} {a.name}")
        click.echo(f"{len(rows)} account(s).")


@main.command()
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

    url = _database()
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


# --- database and demo -------------------------------------------------------------------------


_migrated: set[str] = set()  # a command that opens the database twice checks the schema once


def _database() -> str:
    """The database URL, migrated to the newest schema; a database that cannot be opened is one clear error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from db.migrate import upgrade

    url = settings().url
    if url in _migrated:
        return url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(url)
    except OperationalError as exc:
        fail(f"cannot open the database {parsed.render_as_string(hide_password=True)}: {exc.orig}")
    _migrated.add(url)
    return url


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate chidao's database (CHIDAO_DATABASE_URL) to the newest schema."""
    url = _database()
    click.echo(f"Database at {url.split('@')[-1]} is up to date.")


@main.command()
@click.option("--output", type=click.Path(file_okay=False), help="Where to write the letters (default: DATA_DIR/demo)")
def demo(output: str | None) -> None:
    """The seed cascade end to end: draft, approve level by level as each unit's approver, e-mail to a local sink."""
    from chidao.demo import run_demo

    result = run_demo(EXAMPLES / "langson", Path(output) if output else None)
    click.echo(
        f"Cascade {result.cascade_id}: {sum(result.letters_per_level)} letter(s) — per level "
        f"{result.letters_per_level}; {result.approved} approved now."
    )
    click.echo(f"Messages: {result.sent} sent to the local SMTP sink, {result.failed} failed.")
    click.echo(
        f"Reports: {result.reports} simulated from communes; one reminder sweep as of {result.sweep_day} "
        f"(the communes' deadline eve) sent {result.reminders} reminder(s); {result.overdue} overdue then."
    )
    click.echo(f"Letters (Markdown and HTML): {result.letters_dir}")
    click.echo(f"Status page (the tree coloured by state): {result.status_page}")
    click.echo(f"Audit replay (the history step by step, every letter): {result.replay_page}")
    click.echo(f"Mail (Maildir, one file per message): {result.maildir}")
    click.echo(
        "In a browser: chidao users add vhtt-caoloc-tp --hierarchy examples/langson/hierarchy.yaml, "
        "then chidao serve --hierarchy examples/langson/hierarchy.yaml (README: the web desk)."
    )


if __name__ == "__main__":
    main()
