"""`chidao demo`, the README's main job: the seed cascade down to the mailboxes and the first reports back up,
on embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from cli.common import EXAMPLES

if TYPE_CHECKING:
    pass


@dataclass
class DemoResult:
    cascade_id: int
    letters_per_level: list[int]
    approved: int
    sent: int
    failed: int
    letters_dir: Path
    maildir: Path
    reports: int = 0
    sweep_day: str = ""
    reminders: int = 0
    overdue: int = 0
    status_page: Path | None = None
    replay_page: Path | None = None
    keys: str = ""
    pdfs: int = 0


def dated_directive(example: Path, out: Path) -> Path:
    """The seed directive with a report deadline 15 working days from today (the seed says 'on request')."""
    from chidao import approval
    from letters.calendar import WorkingCalendar

    today = approval.today()
    due = WorkingCalendar().plus(today, 15)
    text = (example / "directive-hsg-2023.yaml").read_text(encoding="utf-8")
    text = text.replace("date: 2023-12-01\n", "").replace(
        "report:\n  due: on_request", f"report:\n  due: {due.isoformat()}\n  lead_days: 3"
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "directive-with-deadline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_demo(example: Path, output: Path | None = None) -> DemoResult:
    """Start a sink, run the cascade flow, approve each letter as its signer (or first approver), send all,
    simulate a few reports, sweep for reminders once, and write the status page. Every step that changes state
    is a Prefect flow run, as in use (cascade, `approved` with its dispatch, remind): Prefect's UI shows them."""
    import os

    from chidao import approval
    from chidao.cascade import check_start
    from chidao.issuing import document_of
    from chidao.replay import render_replay_page
    from chidao.settings import settings
    from chidao.status import cascade_status, render_status_page
    from cli.cascade import run_cascade
    from db.cascades import get_cascade, inputs_of, letter_content
    from db.engine import transaction
    from db.letters import list_letters
    from db.migrate import upgrade
    from flows.approved import approved as after_signing
    from flows.cascade import CascadeParams
    from letters.render import render_html
    from mail.sink import free_port, start_sink

    url = settings().url
    upgrade(url)
    maildir = settings().data_dir / "mail"
    port = free_port()
    sink = start_sink(maildir, port)
    configured = os.environ.get("CHIDAO_SMTP_URL")
    os.environ["CHIDAO_SMTP_URL"] = f"smtp://127.0.0.1:{port}"  # the flows send to the demo's sink
    try:
        directive = dated_directive(example, settings().data_dir / "demo")
        hierarchy_file = str(example / "hierarchy.yaml")
        keys = signing_keys(Path(hierarchy_file))
        check_start(directive, hierarchy_file, None)
        summary = run_cascade(CascadeParams(directive=str(directive), hierarchy=hierarchy_file), show_progress=True)
        approved = sent = failed = 0
        signed: list[tuple[int, str]] = []
        for depth in range(len(summary.letters_per_level)):
            with transaction(url) as session:
                _, hierarchy = inputs_of(session, get_cascade(session, summary.cascade_id))
                level = [r for r in list_letters(session, cascade_id=summary.cascade_id) if r.depth == depth]
                for row in level:
                    if row.status not in approval.OPEN:
                        continue
                    signer = letter_content(row).signer.name
                    people = hierarchy.unit(row.unit_code).approvers
                    who = next((p.id for p in people if p.name == signer), people[0].id)
                    approval.approve(session, row.id, who)
                    approved += 1
                    signed.append((row.id, who))
            for letter_id, who in signed:
                report = after_signing(letter_id, signed_by=who)
                if report is not None:
                    sent, failed = sent + report.count("sent"), failed + report.count("failed")
            signed.clear()
        result = DemoResult(
            summary.cascade_id, summary.letters_per_level, approved, sent, failed, Path(), maildir, keys=keys
        )
        _upward_half(url, summary.cascade_id, result)
    finally:
        sink.stop()
        if configured is None:
            os.environ.pop("CHIDAO_SMTP_URL", None)
        else:
            os.environ["CHIDAO_SMTP_URL"] = configured
    out = output or settings().data_dir / "demo" / f"cascade-{summary.cascade_id}"
    out.mkdir(parents=True, exist_ok=True)
    with transaction(url) as session:
        for row in list_letters(session, cascade_id=summary.cascade_id):
            stem = f"{row.depth}-{row.unit_code}"
            (out / f"{stem}.md").write_text(row.markdown, encoding="utf-8")
            (out / f"{stem}.html").write_text(render_html(letter_content(row)), encoding="utf-8")
            document = document_of(session, row.id)
            if document is not None:
                (out / f"{stem}.pdf").write_bytes(document.pdf)
                result.pdfs += 1
    result.letters_dir = out
    with transaction(url) as session:
        status, hierarchy = cascade_status(session, summary.cascade_id, date.fromisoformat(result.sweep_day))
    result.overdue = len(status.overdue())
    result.status_page = out / "status.html"
    result.status_page.write_text(render_status_page(status, hierarchy), encoding="utf-8")
    result.replay_page = out / "replay.html"
    with transaction(url) as session:
        page = render_replay_page(session, summary.cascade_id, ZoneInfo(settings().timezone))
    result.replay_page.write_text(page, encoding="utf-8")
    return result


def signing_keys(hierarchy_file: Path) -> str:
    """The keys the demo signs with: the configured ones, else a trial PKI made now in DATA_DIR/pki (SoftHSM2
    tokens where installed, else PKCS#12 files). Says which."""
    from chidao.settings import settings
    from hierarchy.load import load_hierarchy
    from signing.pki import make_pki

    configured = settings().keys_file
    if configured is not None:
        return f"keys of {configured}"
    made = make_pki(load_hierarchy(hierarchy_file), settings().data_dir / "pki")
    where = "on SoftHSM2 tokens (PKCS#11)" if made.store == "softhsm" else "in PKCS#12 files: SoftHSM2 is not installed"
    return f"a trial PKI made now in {made.folder}, keys {where}"


def _upward_half(url: str, cascade_id: int, result: DemoResult) -> None:
    """Two communes in three of every four districts report; then one sweep on the communes' deadline eve."""
    from sqlalchemy import select

    from chidao import reporting
    from chidao.settings import settings
    from db.cascades import get_cascade, inputs_of
    from db.engine import transaction
    from db.models import ReportRequest
    from flows.remind import remind
    from letters.calendar import WorkingCalendar
    from reports.content import ReportContent

    content = ReportContent(
        done="Đã tuyên truyền trên hệ thống loa truyền thanh và trang thông tin điện tử.",
        figures={"tin bài": 3, "buổi phát thanh": 10},
    )
    with transaction(url) as session:
        _, hierarchy = inputs_of(session, get_cascade(session, cascade_id))
        requests = session.scalars(
            select(ReportRequest).where(ReportRequest.cascade_id == cascade_id).order_by(ReportRequest.id)
        ).all()
        communes = [r for r in requests if "commune_committee" in hierarchy.unit(r.unit_code).roles]
        by_office: dict[str, list[ReportRequest]] = {}
        for request in communes:
            by_office.setdefault(request.issuer_code, []).append(request)
        for i, (_, owed) in enumerate(sorted(by_office.items())):
            if i % 4 == 3:
                continue
            for request in owed[:2]:
                if request.status != "open":
                    continue  # a rerun of the demo: already reported
                reporter = hierarchy.unit(request.unit_code).reporters[0].id
                reporting.submit(session, request, reporter, content, content.model_dump_json())
                result.reports += 1
        commune_due = min(r.due for r in communes if r.due is not None)
    eve = WorkingCalendar().minus(commune_due, 1)
    moment = datetime.combine(eve, time(7), tzinfo=ZoneInfo(settings().timezone))
    counts = remind(moment)
    result.sweep_day = eve.isoformat()
    result.reminders = sum(int(counts[kind]) for kind in ("due_soon", "overdue", "escalation"))


@click.command()
@click.option("--output", type=click.Path(file_okay=False), help="Where to write the letters (default: DATA_DIR/demo)")
def demo(output: str | None) -> None:
    """The seed cascade end to end: draft, approve level by level as each unit's approver, e-mail to a local sink."""
    from flows.runs import inline

    with inline():
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
    click.echo(f"Signed with {result.keys}.")
    click.echo(
        f"Letters (Markdown, HTML, and {result.pdfs} signed PDF(s): check one with chidao verify FILE): "
        f"{result.letters_dir}"
    )
    click.echo(f"Status page (the tree coloured by state): {result.status_page}")
    click.echo(f"Audit replay (the history step by step, every letter): {result.replay_page}")
    click.echo(f"Mail (Maildir, one file per message): {result.maildir}")
    click.echo(
        "In a browser: chidao users add vhtt-caoloc-tp --hierarchy examples/langson/hierarchy.yaml, "
        "then chidao serve --hierarchy examples/langson/hierarchy.yaml (README: the web desk)."
    )
