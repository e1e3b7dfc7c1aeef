"""`chidao replay --verify`: the record holds after a real cascade, and each kind of tampering is named."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from chidao.cli import main
from db.engine import transaction
from tests.steps import send_down


def tamper(url: str, statement: str) -> None:
    """What someone with write access to the database could do, append-only triggers out of the way."""
    with transaction(url) as session:
        if url.startswith("sqlite"):
            session.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
            session.execute(text("DROP TRIGGER IF EXISTS events_no_delete"))
        else:
            session.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        session.connection().exec_driver_sql(statement)  # raw SQL, as typed at a database prompt


@pytest.fixture
def cascade(chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str) -> str:
    send_down(chidao_env, smtp_url, mini_directive)
    return chidao_env


def verify() -> object:
    return CliRunner().invoke(main, ["replay", "1", "--verify"])


def test_the_record_of_a_real_cascade_verifies(cascade: str) -> None:
    result = verify()
    assert result.exit_code == 0, result.output
    assert "Verified:" in result.output and "cascade.started" in result.output and "letter.approved" in result.output


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (
            "UPDATE letters SET markdown = replace(markdown, 'Kính gửi', 'Kinh gửi') WHERE unit_code = '901.P'",
            "letter 2 (901.P, letter): its text is not the rendering of its recorded content",
        ),
        (
            "UPDATE events SET payload = replace(payload, '\"recipients\":6', '\"recipients\":5') WHERE seq = 2",
            "event 2 (letter.drafted, id 2): its content does not match its hash",
        ),
        ("DELETE FROM events WHERE seq = 3", "event 4 (letter.drafted, id 4): expected event 3 here"),
        (
            "INSERT INTO events (cascade_id, seq, at, actor, kind, payload, prev_hash, hash) "
            "VALUES (1, 99, '2024-02-05 00:00:00', 'x', 'letter.approved', '{}', 'forged', 'forged')",
            "event 99 (letter.approved, id",
        ),
    ],
    ids=["letter-text", "event-payload", "deleted-event", "inserted-event"],
)
def test_tampering_is_caught_and_named(cascade: str, statement: str, named: str) -> None:
    tamper(cascade, statement)
    result = verify()
    assert result.exit_code == 1
    assert f"error: the record of cascade 1 does not hold: {named}" in result.stderr
