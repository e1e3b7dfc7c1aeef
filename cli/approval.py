"""Signing and sending: `chidao approve`, `reject`, `letters regenerate`, `dispatch`, `letters failed`,
`letters resend`, and the local SMTP sink for trying it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from chidao.settings import settings
from cli.common import BAD_INPUT, DEFERRED, UNAVAILABLE, act, clear_errors, database, emit_json, fail
from cli.letters import letters


@click.command()
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Approver's id, as the hierarchy names it")
@click.option(
    "--edit", "edit_file", type=click.Path(dir_okay=False), help="YAML with the letter's sections (and opening/closing)"
)
@click.option("--send/--no-send", default=True, show_default=True, help="E-mail it to its recipients right away")
@click.option(
    "--pin-stdin", is_flag=True, help="Read the PIN of your signing key from the first line of standard input"
)
def approve(letter_id: int, user: str, edit_file: str | None, send: bool, pin_stdin: bool) -> None:
    """Sign a letter: it takes the next number of its unit's register and today's date, is issued as a PDF with
    your digital signature and the office's, and goes out."""
    from chidao import approval, edits, issuing
    from db.cascades import letter_content
    from signing.keys import KeyProblem

    with clear_errors():
        change = edits.load_edit(edit_file) if edit_file else None

    def ready(session: Any) -> bool:
        """Who and which keys, before a PIN is asked: a refusal is told (and logged) at once."""
        letter = approval.authorise(session, letter_id, user, "approve")
        try:
            issuing.check_signers(letter.unit_code, user)
        except KeyProblem as exc:
            raise issuing.SigningRefused(exc, user=user, letter=letter) from None
        return issuing.needs_pin(user)

    needed = act(ready)
    if send:
        _check_sending()
    pin = _pin(user, needed, pin_stdin)

    def action(session: Any) -> str:
        record = approval.approve(session, letter_id, user, change=change, pin=pin)
        content = letter_content(record)
        return f"Letter {record.id} approved: Số: {content.reference}, {content.dateline}."

    click.echo(act(action))
    if send:
        _report_dispatch([letter_id], signed_by=user)


def _check_sending() -> None:
    """Before a letter is numbered: it can be sent as configured (the SMTP URL, or the Prefect server and its
    dispatch deployment)."""
    from chidao.dispatch import SendingUnavailable, check_sending

    try:
        check_sending()
    except ValueError as exc:
        fail(f"{exc}; nothing was signed", BAD_INPUT)
    except SendingUnavailable as exc:
        fail(f"{exc}; nothing was signed", UNAVAILABLE)


def _pin(user: str, needed: bool, from_stdin: bool) -> str | None:
    """The PIN that unlocks the approver's key: from standard input, or asked (hidden) on a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not needed:
        return None
    if sys.stdin.isatty():
        return str(click.prompt(f"PIN of {user}'s signing key", hide_input=True))
    fail(f"the signing key of {user} needs its PIN: give it with --pin-stdin", BAD_INPUT)
    return None


@click.command()
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Approver's id, as the hierarchy names it")
@click.option("--reason", required=True, help="Why, for the drafter and the record")
def reject(letter_id: int, user: str, reason: str) -> None:
    """Send a draft back with the reason: to its unit's drafter (who edits and submits it again), or, in a
    unit without drafters, to be edited and approved later."""
    from chidao import approval
    from db.cascades import get_cascade, inputs_of

    def action(session: Any) -> str:
        record = approval.reject(session, letter_id, user, reason)
        _, hierarchy = inputs_of(session, get_cascade(session, record.cascade_id))
        drafters = approval.drafters_of(hierarchy, record.unit_code)
        return f"Letter {record.id} rejected" + (f": sent back to {', '.join(drafters)}." if drafters else ".")

    click.echo(act(action))
    _published(letter_id)


@letters.command("submit")
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Drafter's id, as the hierarchy names it")
@click.option(
    "--edit", "edit_file", type=click.Path(dir_okay=False), help="YAML with the letter's sections (and opening/closing)"
)
def letters_submit(letter_id: int, user: str, edit_file: str | None) -> None:
    """Submit a draft you prepared (a unit's drafter) to its approvers, with an edit if given."""
    from chidao import approval, edits
    from db.cascades import get_cascade, inputs_of

    with clear_errors():
        change = edits.load_edit(edit_file) if edit_file else None

    def action(session: Any) -> str:
        record = approval.submit(session, letter_id, user, change)
        _, hierarchy = inputs_of(session, get_cascade(session, record.cascade_id))
        return f"Letter {record.id} submitted to {', '.join(approval.approvers_of(hierarchy, record.unit_code))}."

    click.echo(act(action))
    _published(letter_id)


@letters.command("regenerate")
@click.argument("letter_id", type=int)
@click.option("--as", "user", required=True, help="Approver's or drafter's id, as the hierarchy names it")
def letters_regenerate(letter_id: int, user: str) -> None:
    """Draft a rejected or edited letter afresh from the directive, dropping the edits."""
    from chidao import approval

    def action(session: Any) -> str:
        record = approval.regenerate(session, letter_id, user)
        return f"Letter {record.id} drafted afresh; it waits for approval."

    click.echo(act(action))
    _published(letter_id)


def _report_dispatch(letter_ids: list[int] | None, signed_by: str | None = None, resent: bool = False) -> None:
    """Send what is due as a run of the `dispatch` flow and say what happened, recipient by recipient where
    something went wrong. Just signed by `signed_by` (or put back to go again: resent): a run of the `approved`
    flow, as the desk does, which with CHIDAO_DISPATCH=deployment only announces the letter to the server."""
    from chidao.dispatch import SendingUnavailable, smtp_config
    from flows.approved import approved
    from flows.dispatch import dispatch as dispatch_flow
    from flows.runs import inline

    try:
        config = smtp_config()
        with inline():
            if signed_by is not None and letter_ids:
                outcome = approved(letter_ids[0], signed_by=signed_by, resent=resent)
            else:
                outcome = dispatch_flow(letter_ids=letter_ids)
    except ValueError as exc:
        fail(str(exc), BAD_INPUT)
        return
    except SendingUnavailable as exc:
        fail(f"{exc}; the letter is signed and its copies wait in the outbox (chidao dispatch)", UNAVAILABLE)
        return
    if outcome is None:
        kind = "chidao.letter.resent" if resent else "chidao.letter.signed"
        click.echo(f"Announced to the Prefect server ({kind}): its dispatch deployment sends the letter.")
        return
    click.echo(
        f"Sent {outcome.count('sent')} message(s) through {config.host}:{config.port}; "
        f"{outcome.count('failed')} failed, {outcome.count('pending')} deferred."
    )
    shown = [d for d in outcome.deliveries if d.status != "sent"]
    for d in shown[:50]:
        click.echo(f"  letter {d.letter_id} to {d.unit} <{d.email}>: {d.status}: {d.detail}", err=True)
    if len(shown) > 50:
        click.echo(f"  … and {len(shown) - 50} more (chidao letters outbox)", err=True)
    if outcome.gave_up:
        when = f" from {_local(outcome.retry_at)}" if outcome.retry_at else ""
        click.echo(f"Stopped trying: {outcome.gave_up}. Deferred copies go again by themselves{when}.", err=True)
    if outcome.count("failed") or outcome.count("pending"):
        sys.exit(DEFERRED)


def _local(moment: Any) -> str:
    from zoneinfo import ZoneInfo

    return f"{moment.astimezone(ZoneInfo(settings().timezone)):%H:%M %d/%m/%Y}"


@click.command()
@click.option("--letter", "letter_ids", type=int, multiple=True, help="Only this letter (repeatable)")
def dispatch(letter_ids: tuple[int, ...]) -> None:
    """Send every approved letter to the recipients that do not have it yet (CHIDAO_SMTP_URL); safe to rerun."""
    _report_dispatch(list(letter_ids) or None)


@letters.command("failed")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_failed(as_json: bool) -> None:
    """Recipients the mail server refused for good, with its reply."""
    from chidao.outbox import failed

    rows = failed(database())
    if as_json:
        emit_json([d.__dict__ for d in rows])
        return
    for d in rows:
        click.echo(f"letter {d.letter_id}  {d.unit:<12} <{d.email}>  {d.detail}")
    click.echo(f"{len(rows)} failed recipient(s).")


@letters.command("outbox")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["pending", "sending", "failed"]),
    help="Only copies in this state (repeatable; default: all three)",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def letters_outbox(states: tuple[str, ...], as_json: bool) -> None:
    """Copies of signed letters not delivered yet: deferred (when they go again), being sent, or failed for
    good; with attempts and the server's last reply, explained."""
    from chidao.outbox import outbox
    from mail.replies import explain

    rows = outbox(database(), states or ("pending", "sending", "failed"))
    if as_json:
        emit_json([d.__dict__ | {"explained": explain(d.detail)} for d in rows])
        return
    for d in rows:
        when = f", again from {_local(d.retry_at)}" if d.status == "pending" and d.retry_at else ""
        click.echo(f"letter {d.letter_id}  {d.status:<8} {d.unit:<12} <{d.email}>  {d.attempts} attempt(s){when}")
        if d.detail:
            click.echo(f"    {explain(d.detail)}  [{d.detail}]")
    counts = {s: sum(1 for d in rows if d.status == s) for s in ("pending", "sending", "failed")}
    click.echo(f"{counts['pending']} deferred, {counts['sending']} being sent, {counts['failed']} failed.")


@letters.command("resend")
@click.argument("letter_id", type=int)
@click.option("--unit", help="Only this recipient (code)")
def letters_resend(letter_id: int, unit: str | None) -> None:
    """Send a letter's failed and deferred copies again, now."""
    from chidao.outbox import resend

    count = resend(database(), letter_id, unit)
    click.echo(f"{count} recipient(s) put back in the outbox.")
    if count:
        _report_dispatch([letter_id], signed_by="", resent=True)


@click.command("smtp-sink")
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


def _published(letter_id: int) -> None:
    """The letter's new version for Prefect's UI, where a server is configured (flows.publish)."""
    from flows import publish

    publish.letters_if_served([letter_id])
