"""`chidao letters`: list, show and follow the letters of cascades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import clear_errors, database, emit_json, fail


@click.group()
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

    url = database()
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
@click.option("--format", "fmt", type=click.Choice(["md", "html", "docx", "pdf"]), default="md", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file instead of stdout")
def letters_show(letter_id: int, fmt: str, output: str | None) -> None:
    """Print a letter as Markdown, as the printed page (HTML), or write it as a Word file (DOCX) or a PDF (an
    issued letter: the signed PDF that was sent; a draft: the draft as printed)."""
    from db.cascades import letter_content
    from db.engine import transaction
    from db.letters import get_letter
    from letters.docx import render_docx
    from letters.render import render_html

    if fmt in ("docx", "pdf") and not output:
        fail(f"--format {fmt} needs --output FILE (it is not text)", 2)
    with clear_errors(), transaction(database()) as session:
        row = get_letter(session, letter_id)
        content = letter_content(row)
        data: str | bytes
        if fmt == "docx":
            data = render_docx(content)
        elif fmt == "pdf":
            data = _pdf(session, row, content)
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


def _pdf(session: Any, row: Any, content: Any) -> bytes:
    """The signed PDF as issued; a letter not issued (a draft) as printed now."""
    from chidao.issuing import document_of
    from letters.pdf import render_pdf

    document = document_of(session, row.id)
    if document is not None:
        return bytes(document.pdf)
    if not content.is_draft:
        fail(f"letter {row.id} was approved before chidao issued signed PDFs: it has none", 1)
    return render_pdf(content).data


def _recipients(session: Any, letter_id: int) -> list[Any]:
    from sqlalchemy import select

    from db.models import RecipientRecord

    query = select(RecipientRecord).where(RecipientRecord.letter_id == letter_id).order_by(RecipientRecord.position)
    return list(session.scalars(query))


@letters.command("pending")
@click.option("--as", "user", help="Only what this person may approve (or, a drafter, prepare)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_pending(user: str | None, as_json: bool) -> None:
    """Drafts whose letter above has gone out, waiting for their unit's approver (or, in a unit with drafters,
    for its drafter until they submit it), with the reason of the last sending back."""
    from chidao.approval import returned_reason, waiting_for
    from chidao.inbox import pending
    from db.cascades import get_cascade, inputs_of, letter_content
    from db.engine import transaction

    with transaction(database()) as session:
        entries: list[dict[str, Any]] = []
        for row in pending(session, user):
            _, hierarchy = inputs_of(session, get_cascade(session, row.cascade_id))
            returned = returned_reason(session, row.id)
            entries.append(
                {
                    "id": row.id,
                    "cascade": row.cascade_id,
                    "unit": row.unit_code,
                    "status": row.status,
                    "waits_for": waiting_for(hierarchy, row),
                    "issuer": letter_content(row).issuer_name,
                    "area": letter_content(row).place,
                    "subject": row.subject,
                    "returned": {"reason": returned[0], "by": returned[1], "at": returned[2].isoformat()}
                    if returned
                    else None,
                }
            )
    if as_json:
        emit_json(entries)
        return
    for e in entries:
        click.echo(
            f"{e['id']:>6}  c{e['cascade']}  {e['status']:<8} {e['unit']:<12} {e['issuer']} ({e['area']})"
            f"  [{e['waits_for']}]"
        )
        if e["returned"]:
            click.echo(f"        sent back by {e['returned']['by']}: {e['returned']['reason']}")
    click.echo(f"{len(entries)} letter(s) waiting" + (f" for {user}." if user else "."))


@letters.command("received")
@click.option("--unit", required=True, help="The receiving unit (code)")
@click.option("--year", type=int, help="Only this year's register")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_received(unit: str, year: int | None, as_json: bool) -> None:
    """The unit's incoming register (văn bản đến): every letter it received, with its số đến (a number per
    year from 1, in the order they arrived) and the day it arrived. Letters not entered yet are entered now."""
    from chidao.incoming import received, register_received, sender_name
    from db.engine import transaction

    with transaction(database()) as session:
        register_received(session, unit)
        entries = [
            {
                "number": r.number,
                "year": r.entry.year,
                "received_on": r.received_on.isoformat(),
                "letter": r.letter.id,
                "cascade": r.letter.cascade_id,
                "kind": r.letter.kind,
                "from": r.sender,
                "sender": sender_name(session, r.letter),
                "reference": r.content.reference,
                "issued_on": r.content.issued_on.isoformat() if r.content.issued_on else None,
                "doc_type": r.content.doc_type,
                "subject": r.content.subject,
                "report_request": r.request_id,
            }
            for r in received(session, unit, year)
        ]
    if as_json:
        emit_json(entries)
        return
    for e in entries:
        click.echo(
            f"{e['number']:>4}/{e['year']}  {e['received_on']}  {e['reference']:<16} {e['sender']}: "
            f"{e['doc_type']} {e['subject']}  (letter {e['letter']})"
        )
    click.echo(f"{len(entries)} letter(s) received by {unit}.")
