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


def test_the_state_at_a_moment_is_what_was_observed_then(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    import json
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import time_machine

    from chidao import reporting
    from reports.content import ReportContent

    with time_machine.travel(datetime(2024, 2, 5, 9, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")), tick=True):
        send_down(chidao_env, smtp_url, dated_directive)
    content = ReportContent(done="Đã tuyên truyền.")
    with transaction(chidao_env) as session:
        for unit, day in (("90101", 6), ("90102", 15)):
            request = reporting.find_request(session, cascade_id=1, unit=unit)
            reporting.submit(session, request, f"x{unit}-vp", content, "…", at=datetime(2024, 2, day, 3, tzinfo=UTC))

    observed = json.loads(CliRunner().invoke(main, ["reports", "status", "1", "--at", "2024-02-10", "--json"]).output)
    then = json.loads(CliRunner().invoke(main, ["replay", "1", "--at", "2024-02-10", "--format", "json"]).output)
    assert then["letters"] == {"90.S": "sent", "901.P": "sent", "902.P": "drafted"}
    assert then["reported"] == {"90101": "on time"}  # Đông Hà's report came on 15/02
    assert then["overdue"] == ["901.BD", "901.TT", "90102"]
    # The overdue units the status showed on 10/02, less the one that has reported since: the same.
    assert sorted(u["code"] for u in observed["overdue"] if u["due"] < "2024-02-10") == ["901.BD", "901.TT"]
    later = json.loads(CliRunner().invoke(main, ["replay", "1", "--at", "2024-02-16", "--format", "json"]).output)
    assert later["reported"] == {"90101": "on time", "90102": "late"} and "90102" not in later["overdue"]


def test_a_letter_doctored_consistently_is_caught_by_deriving_it_again(cascade: str) -> None:
    """Content, text and SHA-256 changed together: only re-deriving the letter shows it is not the real one."""
    from db.cascades import letter_content
    from db.models import LetterRecord
    from letters.render import render_markdown, sha256

    with transaction(cascade) as session:
        letter = session.query(LetterRecord).filter_by(unit_code="902.P").one()  # still a draft: no approval record
        content = letter_content(letter)
        first = content.sections[0]
        changed = first.model_copy(update={"items": ("Không cần tuyên truyền.", *first.items[1:])})
        doctored = content.model_copy(update={"sections": (changed, *content.sections[1:])})
        assert doctored != content
        markdown = render_markdown(doctored)
        letter.content, letter.markdown, letter.sha256 = doctored.model_dump_json(), markdown, sha256(markdown)
    result = verify()
    assert result.exit_code == 1
    assert "letter 3 (902.P, letter): is not the letter the recorded directive and hierarchy produce" in result.stderr


def test_an_event_recorded_in_vietnam_time_verifies(sqlite_url: str) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from db import events
    from db.migrate import upgrade

    upgrade(sqlite_url)
    with transaction(sqlite_url) as session:
        events.record(
            session, None, "test", "x", {"a": 1}, at=datetime(2024, 2, 5, 7, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
        )
    with transaction(sqlite_url) as session:
        (event,) = events.history(session, None)  # type: ignore[arg-type]
        assert events.event_hash(event.prev_hash, event) == event.hash
