"""`chidao users`: the web desk's accounts."""

from __future__ import annotations

import sys

import click

from cli.common import clear_errors, database, fail


@click.group()
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
    """Give a person an account: an approver, drafter or reporter the hierarchy names (what they may do
    follows from the hierarchy), or an auditor."""
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
            fail(f"{hierarchy_file}: no approver, drafter or reporter has the id {account_id!r}", 2)
        name = name or named[account_id]
        units = units_of(h, account_id)
    elif not name:
        fail("an auditor's account needs --name", 2)
    assert name is not None
    password = _new_password(password_stdin)
    url = database()
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
        with transaction(database()) as session:
            set_password(session, account_id, password)
    except AccountError as exc:
        fail(str(exc), 2)
    click.echo(f"Password of {account_id} changed; its open sessions have ended.")


@users.command("disable")
@click.argument("account_id")
def users_disable(account_id: str) -> None:
    """The account may no longer sign in to the desk; its open sessions end at once."""
    from chidao.accounts import AccountError, disable
    from db.engine import transaction

    try:
        with transaction(database()) as session:
            ended = disable(session, account_id)
    except AccountError as exc:
        fail(str(exc), 2)
    click.echo(f"Account {account_id} disabled; {ended} open session(s) ended.")


@users.command("list")
def users_list() -> None:
    """The desk's accounts."""
    from sqlalchemy import select

    from db.engine import transaction
    from db.models import Account

    with transaction(database()) as session:
        rows = session.scalars(select(Account).order_by(Account.id)).all()
        for a in rows:
            click.echo(f"{a.id:<24} {a.role:<8} {a.name}" + ("  (disabled)" if a.disabled else ""))
        click.echo(f"{len(rows)} account(s).")
