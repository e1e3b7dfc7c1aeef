"""`chidao replay --verify`: the record holds after a real cascade, and each kind of tampering is named."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cli import main
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
        (  # the chain alone cannot see its end cut off: the request that event opened has no event now
            "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events WHERE cascade_id = 1)",
            "report request of 90102 (letter 2): no event requested it",
        ),
        (
            "DELETE FROM recipients WHERE unit_code = '90101'",
            "event 17 (message.sent, id 17): sent to 90101, but the recipient's row does not say so",
        ),
        (
            "UPDATE hierarchy_snapshots SET data = replace(data, 'UBND', 'UBNDx')",
            "event 1 (cascade.started, id 1): the stored hierarchy is not the one the cascade started with",
        ),
    ],
    ids=[
        "letter-text",
        "event-payload",
        "deleted-event",
        "inserted-event",
        "deleted-last-event",
        "deleted-row",
        "edited-snapshot",
    ],
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
    assert "letter 3 (902.P, letter): is not the letter the recorded inputs produce" in result.stderr


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


def test_an_edited_letter_is_derived_again_from_its_recorded_edit(cascade: str) -> None:
    """Tây's draft is edited before and after the department's letter goes out, then signed: verify re-derives
    it from the directive, the hierarchy and the two recorded edits, and catches a consistent forgery."""
    from chidao import approval, edits
    from db.cascades import letter_content
    from db.models import LetterRecord
    from letters.render import render_markdown, sha256

    edit = edits.LetterEdit.model_validate(
        {
            "opening": "Thực hiện chỉ đạo của Sở, Phòng đề nghị các đơn vị thực hiện như sau:",
            "sections": [{"title": "1. Các xã", "items": ["Tuyên truyền trên loa truyền thanh xã."]}],
        }
    )
    with transaction(cascade) as session:
        approval.edit(session, 3, "p902-tp", edit)
        second = edits.LetterEdit.model_validate(
            {"sections": [{"title": "1. Các xã", "items": ["Tuyên truyền trên loa và trang thông tin điện tử."]}]}
        )
        approval.approve(session, 3, "p902-tp", change=second)
    with transaction(cascade) as session:
        content = letter_content(session.get_one(LetterRecord, 3))
        assert content.opening == edit.opening  # the first edit's opening stands after the second edit
        assert content.sections[0].items == ("Tuyên truyền trên loa và trang thông tin điện tử.",)
    result = verify()
    assert result.exit_code == 0, result.output + result.stderr
    assert "(2 derived again from the directive, the hierarchy and the recorded edits)" not in result.output
    assert "3 letters are their recorded text (3 derived again" in result.output

    with transaction(cascade) as session:  # the signed letter, its content, text and hash changed together
        letter = session.get_one(LetterRecord, 3)
        doctored = letter_content(letter).model_copy(update={"opening": "Phòng đề nghị:"})
        markdown = render_markdown(doctored)
        letter.content, letter.markdown, letter.sha256 = doctored.model_dump_json(), markdown, sha256(markdown)
    result = verify()
    assert result.exit_code == 1
    assert "letter 3 (902.P, letter): differs from the letter recorded at approval" in result.stderr


def test_an_edit_made_before_the_letter_above_goes_out_survives_its_rederivation(
    chidao_env: str, mini_directive: Path
) -> None:
    from chidao import approval, edits
    from db.cascades import letter_content
    from db.models import LetterRecord
    from tests.steps import SIGNED, draft_cascade

    ids = draft_cascade(chidao_env, mini_directive)
    change = edits.LetterEdit.model_validate(
        {"closing": "Phòng đề nghị các xã thực hiện nghiêm./.", "sections": [{"title": "1. Các xã", "items": ["Làm."]}]}
    )
    with transaction(chidao_env) as session:
        approval.edit(session, ids["902.P"], "p902-tp", change)
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)  # Tây's draft now cites the numbered letter
    with transaction(chidao_env) as session:
        tay = letter_content(session.get_one(LetterRecord, ids["902.P"]))
    assert tay.closing == change.closing and tay.sections[0].items == ("Làm.",)
    assert "ngày 05/02/2024" in tay.opening  # the citation, re-derived
    result = verify()
    assert result.exit_code == 0, result.output + result.stderr
