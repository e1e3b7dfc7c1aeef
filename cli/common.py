"""What every command group shares: messages and exit codes, expected failures turned into one line each
(never a traceback), JSON output, and the database opened (and migrated) once per command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from chidao.settings import settings
from inputs.sources import InputError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Exit codes, the same for every command (README: "Exit codes"), so a script can tell them apart.
DONE = 0
REFUSED = 1  # not allowed, not found, or the record does not hold: nothing changed
BAD_INPUT = 2  # a file, an option or a setting is wrong: nothing changed
DEFERRED = 3  # done, but some copies could not be delivered yet (failed, or deferred to be tried again)
UNAVAILABLE = 4  # the database, the mail server or the Prefect server cannot be reached: nothing changed


def fail(message: str, code: int = REFUSED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn expected failures into one message per problem and a non-zero exit, never a traceback."""
    from db.cascades import CascadeNotFound
    from db.letters import LetterNotFound
    from letters.fonts import FontMissing
    from letters.plan import NothingToSend

    try:
        yield
    except InputError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    except NothingToSend as exc:
        fail(str(exc), 2)
    except (LetterNotFound, CascadeNotFound, FontMissing) as exc:
        fail(str(exc))


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


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


def act(action: Callable[[Any], Any]) -> Any:
    """Run an approval action in its own transaction."""
    from db.engine import transaction

    url = database()
    with refusals(url), clear_errors(), transaction(url) as session:
        return action(session)


_migrated: set[str] = set()  # a command that opens the database twice checks the schema once


def database() -> str:
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
        fail(f"cannot open the database {parsed.render_as_string(hide_password=True)}: {exc.orig}", UNAVAILABLE)
    _migrated.add(url)
    return url
