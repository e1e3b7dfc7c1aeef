"""The desk's working day over HTTP, against a real server, database and SMTP sink: a drafter prepares and
submits, the head sends back with a reason or signs through the confirmation page, typed edits are never lost,
the incoming register (văn bản đến), a district head's view of her communes, e-mail notices of work waiting,
search and pages; and the same on the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from chidao import approval, edits, incoming
from chidao.audit import verify
from cli import main
from db.engine import transaction
from db.models import Event, IncomingEntry, LetterRecord, RecipientRecord, ReportRequest, WorkNotice
from mail.sink import messages
from tests.steps import (
    CAO_LOC_DRAFTER,
    desk_cascade,
    desk_server,
    draft_cascade,
    langson_directive,
    with_drafters,
)
from tests.test_desk import desk_people, form_fields, signing_form

VN = ZoneInfo("Asia/Ho_Chi_Minh")
HEAD, CLERK, OTHER_HEAD = "vhtt-caoloc-tp", "vhxh-06184", "vhtt-trangdinh-tp"
FIRST_TRY = "Chuyên viên thêm: treo băng rôn tại chợ Đồng Đăng."
SECOND_TRY = "Chuyên viên sửa: treo 20 băng rôn tại chợ Đồng Đăng và cửa khẩu Hữu Nghị."
HEAD_TOUCH = "Lãnh đạo bổ sung khi ký: báo cáo kết quả trước ngày 07/02/2024."
REASON = "Ghi rõ số lượng băng rôn và địa điểm treo."


@pytest.fixture
def desk(
    database_url: str, sink: Path, smtp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The Lạng Sơn cascade with a drafter in Cao Lộc's office, the department's letter signed, the desk up
    the day after (06/02/2024), under time travel."""
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", database_url)
    hierarchy = with_drafters(tmp_path)
    ids = desk_cascade(database_url, smtp_url, langson_directive(tmp_path), hierarchy)
    with (
        time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True) as clock,
        desk_server(database_url, hierarchy) as base,
        desk_people(base) as arriving,
    ):

        class Desk:
            url, letters, maildir, now = database_url, ids, sink, clock
            person = staticmethod(arriving)

        yield Desk


def _with_item(fields: dict[str, str], item: str) -> dict[str, str]:
    changed = dict(fields)
    changed["section-0-items"] = item + "\n" + changed["section-0-items"]
    return changed


def _letter(url: str, letter_id: int) -> LetterRecord:
    with transaction(url) as session:
        return session.get_one(LetterRecord, letter_id)


def _notices(maildir: Path) -> list[Any]:
    return [m for m in map(message_from_bytes, messages(maildir)) if str(m["Message-ID"]).startswith("<notice-")]


def test_the_drafter_prepares_the_head_sends_it_back_and_signs_it_resubmitted(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    drafter, head = desk.person(CAO_LOC_DRAFTER), desk.person(HEAD)
    assert drafter.get("/").url.path == "/inbox"
    assert f"/letters/{letter}" in drafter.get("/inbox").text
    assert f"/letters/{letter}" not in head.get("/inbox").text  # not the head's until it is submitted
    early = head.post(f"/letters/{letter}/confirm", form_fields(head.get(f"/letters/{letter}").text))
    assert early.status_code == 409 and "còn ở chuyên viên" in early.text

    # the drafter types an item and submits at once: what was typed goes with the submission
    page = drafter.get(f"/letters/{letter}").text
    assert "Trình lãnh đạo ký" in page and "Xem lại trước khi ký" not in page
    submitted = drafter.post(f"/letters/{letter}/submit", _with_item(form_fields(page), FIRST_TRY))
    assert submitted.status_code == 200 and "Đã trình lãnh đạo ký" in submitted.text
    record = _letter(desk.url, letter)
    assert record.submitted_at is not None and FIRST_TRY in record.markdown and record.status == "draft"
    assert f"/letters/{letter}" not in drafter.get("/inbox").text
    assert f"/letters/{letter}" in head.get("/inbox").text
    assert drafter.post(f"/letters/{letter}/approve", {"expect": "x"}).status_code == 403  # a drafter never signs
    late_edit = drafter.post(f"/letters/{letter}/edit", _with_item(form_fields(page), "muộn"))
    assert late_edit.status_code == 409 and "đã trình lãnh đạo" in late_edit.text.lower()
    assert "muộn" in late_edit.text  # refused, and what was typed is still on the page

    # the head sends it back without a reason (refused, typed reason kept), then with one
    head_page = head.get(f"/letters/{letter}").text
    assert "Trả lại chuyên viên" in head_page
    no_reason = head.post(f"/letters/{letter}/reject", {**form_fields(head_page), "reason": " "})
    assert no_reason.status_code == 400 and "Hãy ghi lý do trả lại" in no_reason.text
    sent_back = head.post(f"/letters/{letter}/reject", {**form_fields(head_page), "reason": REASON})
    assert sent_back.status_code == 200 and "Đã trả lại chuyên viên" in sent_back.text
    assert _letter(desk.url, letter).status == "rejected"

    # the drafter sees the reason in the inbox and on the letter, edits and submits again
    inbox = drafter.get("/inbox").text
    assert f"/letters/{letter}" in inbox and REASON in inbox and "Bị trả lại" in inbox
    page = drafter.get(f"/letters/{letter}").text
    assert REASON in page and "Lãnh đạo trả lại" in page
    fields = form_fields(page)
    fields["section-0-items"] = fields["section-0-items"].replace(FIRST_TRY, SECOND_TRY)
    assert drafter.post(f"/letters/{letter}/submit", fields).status_code == 200
    assert SECOND_TRY in _letter(desk.url, letter).markdown

    # the head adds a line and reviews: the letter as it will be signed, its number and date, its recipients
    head_page = head.get(f"/letters/{letter}").text
    shown = head.post(f"/letters/{letter}/confirm", _with_item(form_fields(head_page), HEAD_TOUCH))
    assert shown.status_code == 200 and "Xem lại trước khi ký" in shown.text
    assert "01/VHTT" in shown.text and "06/02/2024" in shown.text and "ngày 06 tháng 02 năm 2024" in shown.text
    recipients = len(_letter_recipients(desk.url, letter))
    assert f"Ký số và gửi đến {recipients} nơi nhận" in shown.text
    assert HEAD_TOUCH in shown.text and SECOND_TRY in shown.text
    assert _letter(desk.url, letter).status == "draft"  # reviewing changed nothing
    signed = head.post(f"/letters/{letter}/approve", signing_form(shown.text))
    assert signed.status_code == 200 and "Đã ký và cấp số 01/VHTT" in signed.text
    record = _letter(desk.url, letter)
    assert record.status == "sent" and record.number == 1
    assert HEAD_TOUCH in record.markdown and SECOND_TRY in record.markdown and FIRST_TRY not in record.markdown
    with transaction(desk.url) as session:
        kinds = [
            (e.kind, e.actor)
            for e in session.scalars(select(Event).where(Event.letter_id == letter).order_by(Event.seq))
            if e.kind.startswith("letter.") and e.kind not in ("letter.drafted", "letter.issued")
        ]
        assert kinds == [
            ("letter.edited", CAO_LOC_DRAFTER),
            ("letter.submitted", CAO_LOC_DRAFTER),
            ("letter.rejected", HEAD),
            ("letter.edited", CAO_LOC_DRAFTER),
            ("letter.submitted", CAO_LOC_DRAFTER),
            ("letter.edited", HEAD),
            ("letter.approved", HEAD),
        ]
        assert verify(session, record.cascade_id).problems == []  # the record holds: edits by either, derived again


def _letter_recipients(url: str, letter_id: int) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(RecipientRecord.unit_code).where(RecipientRecord.letter_id == letter_id)))


def test_typed_edits_are_never_lost_and_what_is_signed_is_what_was_shown(desk: Any) -> None:
    letter = desk.letters["180.VHTT"]  # Tràng Định: no drafter, the head edits and signs
    head = desk.person(OTHER_HEAD)
    page = head.get(f"/letters/{letter}").text
    typed = _with_item(form_fields(page), HEAD_TOUCH)

    # review, then back: the page again with what was typed, nothing saved
    shown = head.post(f"/letters/{letter}/confirm", typed)
    assert shown.status_code == 200 and HEAD_TOUCH in shown.text
    back = head.post(f"/letters/{letter}/back", signing_form(shown.text))
    assert back.status_code == 200 and HEAD_TOUCH in form_fields(back.text)["section-0-items"]
    assert HEAD_TOUCH not in _letter(desk.url, letter).markdown

    # a form that does not validate, whatever the button: the page again, everything typed in it
    broken = {**typed, "section-1-title": ""}
    for action in ("confirm", "edit", "approve"):
        answer = head.post(f"/letters/{letter}/{action}", broken)
        assert answer.status_code == 400 and "chưa có tiêu đề" in answer.text, action
        assert HEAD_TOUCH in answer.text, action

    # signing without the confirmation page shows it first; nothing is signed
    direct = head.post(f"/letters/{letter}/approve", typed)
    assert direct.status_code == 200 and "Xem lại trước khi ký" in direct.text
    assert _letter(desk.url, letter).status == "draft"

    # another hand saves the letter between review and signature: nothing is signed, the new letter is shown
    shown = head.post(f"/letters/{letter}/confirm", typed)
    with transaction(desk.url) as session:
        change = edits.LetterEdit.model_validate(
            {"sections": [{"title": "Mục khác", "items": ["Nội dung do người khác lưu."]}]}
        )
        approval.edit(session, letter, "vhtt-trangdinh-tp", change)
    moved = head.post(f"/letters/{letter}/approve", signing_form(shown.text))
    assert moved.status_code == 409 and "vừa được người khác sửa" in moved.text and HEAD_TOUCH in moved.text
    assert _letter(desk.url, letter).status == "draft" and _letter(desk.url, letter).number is None

    # a stale form saved over another's edit: refused, both texts kept
    stale = head.post(f"/letters/{letter}/edit", typed)
    assert stale.status_code == 409 and "vừa được người khác sửa" in stale.text and HEAD_TOUCH in stale.text
    assert "Nội dung do người khác lưu." in _letter(desk.url, letter).markdown
    # the page it comes back with carries the letter's new state: saving from it now works
    assert head.post(f"/letters/{letter}/edit", form_fields(stale.text)).status_code == 200

    # the letter as shown now is the letter signed
    fresh = form_fields(head.get(f"/letters/{letter}").text)
    shown = head.post(f"/letters/{letter}/confirm", _with_item(fresh, "Thêm một ý khi ký."))
    signed = head.post(f"/letters/{letter}/approve", signing_form(shown.text))
    assert signed.status_code == 200 and "Đã ký và cấp số" in signed.text
    record = _letter(desk.url, letter)
    assert record.status == "sent" and "Thêm một ý khi ký." in record.markdown
    assert record.sha256 == signing_form(shown.text)["expect"]


def test_a_commune_finds_the_letter_in_its_incoming_register(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    drafter, head = desk.person(CAO_LOC_DRAFTER), desk.person(HEAD)
    drafter.post(f"/letters/{letter}/submit", form_fields(drafter.get(f"/letters/{letter}").text))
    shown = head.post(f"/letters/{letter}/confirm", form_fields(head.get(f"/letters/{letter}").text))
    head.post(f"/letters/{letter}/approve", signing_form(shown.text))
    clerk = desk.person(CLERK)
    page = clerk.get("/received")
    assert page.status_code == 200 and "Văn bản đến: UBND thị trấn Đồng Đăng" in page.text
    row = re.search(r"<td><strong>(\d+)</strong>/2024</td>\s*<td>(\d\d/\d\d/\d{4})</td>\s*<td>01/VHTT", page.text)
    assert row and row.groups() == ("1", "06/02/2024"), page.text[-3000:]
    assert f'href="/letters/{letter}"' in page.text and "Phòng Văn hóa và Thông tin huyện Cao Lộc" in page.text
    assert clerk.get(f"/letters/{letter}").status_code == 200  # the letter itself, as received
    assert clerk.get("/received?q=ĐỒNG+DANG").status_code == 200
    assert "Không có kết quả" in clerk.get("/received?q=không-có-văn-bản-này").text
    # the head of Cao Lộc sees her own register (the department's letter), not the commune's
    own = head.get("/received").text
    assert "Sở Thông tin và Truyền thông tỉnh Lạng Sơn" in own and "01/VHTT" not in own
    assert head.get("/received?unit=06184").status_code == 403
    # the CLI reads the same register; reading again enters nothing twice
    listed = CliRunner().invoke(main, ["letters", "received", "--unit", "06184", "--json"])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.output)
    assert [(e["number"], e["received_on"], e["reference"], e["letter"]) for e in entries] == [
        (1, "2024-02-06", "01/VHTT", letter)
    ]
    with transaction(desk.url) as session:
        assert len(session.scalars(select(IncomingEntry).where(IncomingEntry.unit_code == "06184")).all()) == 1
        registered = session.scalars(select(Event).where(Event.kind == "letter.registered")).all()
        assert {json.loads(e.payload)["unit"] for e in registered} == {"06184", "183.VHTT"}


def test_the_district_head_follows_her_communes_reports(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    drafter, head = desk.person(CAO_LOC_DRAFTER), desk.person(HEAD)
    drafter.post(f"/letters/{letter}/submit", form_fields(drafter.get(f"/letters/{letter}").text))
    shown = head.post(f"/letters/{letter}/confirm", form_fields(head.get(f"/letters/{letter}").text))
    head.post(f"/letters/{letter}/approve", signing_form(shown.text))
    clerk = desk.person(CLERK)
    with transaction(desk.url) as session:
        request = session.scalars(select(ReportRequest.id).where(ReportRequest.unit_code == "06184")).one()
        cascade = session.get_one(LetterRecord, letter).cascade_id
    clerk.get(f"/reports/{request}")
    clerk.post(f"/reports/{request}", {"done": "Đã treo băng rôn.", "figures": "Số băng rôn: 1250\nTỉ lệ: 97,5"})
    desk.now.move_to(datetime(2024, 2, 19, 9, tzinfo=VN))  # the communes' deadline (07/02) is past
    head = desk.person(HEAD)  # a new working day: signed in again

    listed = head.get("/cascades").text
    assert f'href="/cascades/{cascade}/units/183.VHTT"' in listed
    page = head.get(f"/cascades/{cascade}/units/183.VHTT")
    assert page.status_code == 200 and "Phòng Văn hóa và Thông tin huyện Cao Lộc" in page.text
    assert "UBND thị trấn Đồng Đăng" in page.text and f'href="/reports/{request}"' in page.text
    assert re.search(r"đã báo cáo", page.text) and re.search(r"quá hạn", page.text)
    overdue = head.get(f"/cascades/{cascade}/units/183.VHTT?state=overdue").text
    assert "UBND thị trấn Đồng Đăng" not in overdue.split("<h2>Các đơn vị</h2>")[1]
    report = head.get(f"/reports/{request}").text
    assert "1.250" in report and "97,5" in report  # figures in Vietnamese style
    # another district's head may not follow Cao Lộc's communes; the department may, from its tree
    assert desk.person(OTHER_HEAD).get(f"/cascades/{cascade}/units/183.VHTT").status_code == 403
    department = desk.person("stttt-langson-gd")
    tree = department.get(f"/cascades/{cascade}?q=Đồng+Đăng").text
    assert f'href="/reports/{request}"' in tree and f'href="/cascades/{cascade}/units/183.VHTT"' in tree
    assert f'href="/letters/{letter}"' in department.get(f"/cascades/{cascade}?q=183.VHTT").text


def test_the_department_pages_through_a_cascade_of_many_units(desk: Any) -> None:
    department = desk.person("stttt-langson-gd")
    cascade = _letter(desk.url, desk.letters["20.STTTT"]).cascade_id
    first = department.get(f"/cascades/{cascade}").text
    total = int(re.search(r"trong ([\d.]+)", first).group(1).replace(".", ""))  # type: ignore[union-attr]
    assert total > 200 and "Trang 1 /" in first and 'rel="next"' in first
    rows = len(re.findall(r'<tr class="unit', first))
    assert 0 < rows <= 50
    last_page = -(-total // 50)
    last = department.get(f"/cascades/{cascade}?page={last_page}").text
    assert f"Trang {last_page} / {last_page}" in last and 'rel="next"' not in last
    letters = department.get(f"/cascades/{cascade}/letters?q=Cao+Lộc")
    assert letters.status_code == 200 and f'href="/letters/{desk.letters["183.VHTT"]}"' in letters.text
    assert "Phòng Văn hóa và Thông tin huyện Tràng Định" not in letters.text


def test_people_are_told_by_email_once_when_a_letter_waits_for_them(desk: Any) -> None:
    from chidao import notices

    letter = desk.letters["183.VHTT"]
    # as after the department signs on the desk: the districts' drafts wait for their drafter or their head
    first = notices.notify(desk.url)
    assert {n.kind for n in first} == {"to_draft", "to_sign"} and {n.status for n in first} == {"sent"}
    drafter, head = desk.person(CAO_LOC_DRAFTER), desk.person(HEAD)
    page = drafter.get(f"/letters/{letter}").text
    drafter.post(f"/letters/{letter}/submit", form_fields(page))  # the desk tells whoever letters wait for
    told = _notices(desk.maildir)
    subjects = [str(message_from_bytes(m.as_bytes())["Subject"]) for m in told]
    assert len(told) == len({m["Message-ID"] for m in told})
    to_cao_loc = [m for m in told if "vhtt.183@langson.example" in str(m["To"])]
    assert {str(m["Message-ID"]).split("@")[0] for m in to_cao_loc} == {
        f"<notice-{letter}.to_draft.0",
        f"<notice-{letter}.to_sign.1",
    }
    assert any("vhtt.180@langson.example" in str(m["To"]) for m in told)  # Tràng Định's head: a draft to sign
    assert len(subjects) == len(told)
    head.post(f"/letters/{letter}/reject", {**form_fields(head.get(f"/letters/{letter}").text), "reason": REASON})
    returned = [m for m in _notices(desk.maildir) if f"notice-{letter}.returned.1" in str(m["Message-ID"])]
    assert len(returned) == 1 and REASON in returned[0].get_payload(decode=True).decode()
    before = len(_notices(desk.maildir))
    assert notices.notify(desk.url) == []  # each once
    assert len(_notices(desk.maildir)) == before
    with transaction(desk.url) as session:
        assert {n.status for n in session.scalars(select(WorkNotice))} == {"sent"}


def test_the_command_line_submits_and_sends_back(chidao_env: str, sink: Path, smtp_url: str, tmp_path: Path) -> None:
    hierarchy = with_drafters(tmp_path)
    ids = desk_cascade(chidao_env, smtp_url, langson_directive(tmp_path), hierarchy)
    letter, runner = ids["183.VHTT"], CliRunner()
    with time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True):
        waiting = runner.invoke(main, ["letters", "pending", "--as", CAO_LOC_DRAFTER, "--json"])
        assert [e["id"] for e in json.loads(waiting.output)] == [letter]
        early = runner.invoke(main, ["approve", str(letter), "--as", HEAD])
        assert early.exit_code == 1 and "with its drafter" in early.output
        submitted = runner.invoke(main, ["letters", "submit", str(letter), "--as", CAO_LOC_DRAFTER])
        assert submitted.exit_code == 0 and "submitted to vhtt-caoloc-tp, vhtt-caoloc-ptp" in submitted.output
        again = runner.invoke(main, ["letters", "submit", str(letter), "--as", CAO_LOC_DRAFTER])
        assert again.exit_code == 1 and "submitted already" in again.output
        sent_back = runner.invoke(main, ["reject", str(letter), "--as", HEAD, "--reason", REASON])
        assert sent_back.exit_code == 0 and f"sent back to {CAO_LOC_DRAFTER}" in sent_back.output
        shown = runner.invoke(main, ["letters", "pending", "--as", CAO_LOC_DRAFTER])
        assert REASON in shown.output and f"sent back by {HEAD}" in shown.output
        assert runner.invoke(main, ["letters", "submit", str(letter), "--as", CAO_LOC_DRAFTER]).exit_code == 0
        signed = runner.invoke(main, ["approve", str(letter), "--as", HEAD])
        assert signed.exit_code == 0, signed.output
    added = runner.invoke(
        main, ["users", "add", CAO_LOC_DRAFTER, "--hierarchy", str(hierarchy), "--password-stdin"], input="x" * 12
    )
    assert added.exit_code == 2 and "exists already" in added.output  # named by the hierarchy: accepted, once


def test_the_incoming_register_numbers_each_letter_once_under_concurrent_reads(
    database_url: str, mini_directive: Path
) -> None:
    ids = draft_cascade(database_url, mini_directive)
    start = datetime(2024, 12, 31, 16, 52, tzinfo=UTC)  # 23:52 in Hà Nội: from the third on, they arrive in 2025
    assert len(ids) >= 3
    with transaction(database_url) as session:
        for n, letter_id in enumerate(sorted(ids.values(), reverse=True)):
            session.add(
                RecipientRecord(
                    letter_id=letter_id,
                    unit_code="X",
                    name="X",
                    email="x@example.org",
                    position=99,
                    status="sent",
                    sent_at=start + timedelta(minutes=4 * n),
                )
            )

    def read(_: int) -> None:
        with transaction(database_url) as session:
            incoming.register_received(session, "X")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(read, range(8)))
    with transaction(database_url) as session:
        entries = session.scalars(select(IncomingEntry).order_by(IncomingEntry.received_at)).all()
        assert [e.letter_id for e in entries] == sorted(ids.values(), reverse=True)
        by_year: dict[int, list[int]] = {}
        for e in entries:
            by_year.setdefault(e.year, []).append(e.number)
            assert e.received_on == e.received_at.astimezone(VN).date()
        assert by_year == {2024: [1, 2], 2025: list(range(1, len(entries) - 1))}
        assert entries[-1].received_on >= date(2025, 1, 1)
        assert incoming.register_received(session, "X") == []
