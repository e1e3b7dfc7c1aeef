"""The web desk over HTTP against a real server (uvicorn on loopback), a real database and a real SMTP sink:
who may see and do what, CSRF, throttled sign-in, escaping, and that the desk and the CLI share their rules."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from chidao import accounts
from cli import main
from db.base import utcnow
from db.engine import transaction
from db.models import Event, LetterRecord, Report, ReportRequest, SignInAttempt
from mail.sink import messages
from tests.steps import LANGSON, PASSWORD, desk_cascade, desk_server, langson_directive

VN = ZoneInfo("Asia/Ho_Chi_Minh")
EVIL = '<script>alert("xss")</script><img src=x onerror="alert(1)">'


class Person:
    """A browser without JavaScript: cookies, forms and their CSRF tokens."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=True, timeout=120)
        self.csrf = ""

    def get(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: str | None = None, **kw: Any) -> httpx.Response:
        form = dict(data or {})
        if csrf is not False:  # type: ignore[comparison-overlap]
            form["csrf"] = self.csrf if csrf is None else csrf
        return self.http.post(path, data=form, **kw)

    def sign_in(self, account: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/sign-in")
        return self.post("/sign-in", {"account": account, "password": password, "next": "/"})

    def sign(self, letter_id: int) -> httpx.Response:
        """As an approver does: the letter, review it as it will be signed, sign it."""
        shown = self.post(f"/letters/{letter_id}/confirm", form_fields(self.get(f"/letters/{letter_id}").text))
        assert shown.status_code == 200 and "Xem lại trước khi ký" in shown.text, shown.text[-2000:]
        return self.post(f"/letters/{letter_id}/approve", signing_form(shown.text))


@contextmanager
def desk_people(base: str) -> Iterator[Callable[..., Person]]:
    """Who comes to the desk at `base`: each a client of their own, signed in as the account given (none: not
    signed in); every client closed at the end."""
    people: list[Person] = []

    def person(account: str | None = None) -> Person:
        who = Person(base)
        people.append(who)
        if account:
            assert who.sign_in(account).url.path in ("/inbox", "/reports", "/cascades")
        return who

    try:
        yield person
    finally:
        for who in people:
            who.http.close()


def form_fields(page: str) -> dict[str, str]:
    """The letter form's fields as the page shows them (what a browser would post)."""
    fields = {}
    for name, value in re.findall(r'<input type="(?:text|hidden)" id="[^"]*" name="([^"]+)" value="([^"]*)"', page):
        fields[name] = html.unescape(value)
    for name, value in re.findall(r'<textarea id="[^"]*" name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.DOTALL):
        fields[name] = html.unescape(value)
    base = re.search(r'name="base" value="([^"]+)"', page)
    if base:
        fields["base"] = base.group(1)
    return fields


def signing_form(page: str) -> dict[str, str]:
    """The confirmation page's signing form: what it carries."""
    form = page[page.index('id="sign"') :]
    found = {
        name: html.unescape(value)
        for name, value in re.findall(r'<textarea name="([^"]+)" hidden>(.*?)</textarea>', form, re.DOTALL)
    }
    expect = re.search(r'name="expect" value="([^"]+)"', form)
    assert expect is not None
    found["expect"] = expect.group(1)
    return found


def letter_messages(maildir: Path) -> list[bytes]:
    """The messages that carry letters (not the notices telling people a letter waits for them)."""
    return [m for m in messages(maildir) if b"Message-ID: <notice-" not in m]


@pytest.fixture
def desk(
    database_url: str, sink: Path, smtp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", database_url)
    ids = desk_cascade(database_url, smtp_url, langson_directive(tmp_path, extra=EVIL))
    # The day after the department's letter: the districts may still sign (their communes' deadline, 07/02/2024
    # before Tết, has not passed); a test moves the clock on to see reports come in late.
    with (
        time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True) as clock,
        desk_server(database_url) as base,
        desk_people(base) as arriving,
    ):

        class Desk:
            url, letters, maildir = database_url, ids, sink
            now = clock
            person = staticmethod(arriving)

        yield Desk


def _status(url: str, letter_id: int) -> str:
    with transaction(url) as session:
        return session.get_one(LetterRecord, letter_id).status


def _refusals(url: str, actor: str) -> list[dict[str, Any]]:
    with transaction(url) as session:
        rows = session.scalars(select(Event).where(Event.kind == "attempt.refused", Event.actor == actor)).all()
        return [json.loads(e.payload) | {"letter": e.letter_id} for e in rows]


def test_cao_loc_head_approves_and_the_letter_goes_to_its_recipients(desk: Any) -> None:
    head = desk.person("vhtt-caoloc-tp")
    letter = desk.letters["183.VHTT"]
    assert f"/letters/{letter}" in head.get("/inbox").text
    before = len(letter_messages(desk.maildir))
    page = head.get(f"/letters/{letter}")
    assert page.status_code == 200 and "Xem lại trước khi ký" in page.text
    direct = head.post(f"/letters/{letter}/approve")  # not through the confirmation: it is shown first
    assert direct.status_code == 200 and "Ký số và gửi đến" in direct.text and _status(desk.url, letter) == "draft"
    done = head.sign(letter)
    sent = len(letter_messages(desk.maildir)) - before
    assert done.status_code == 200 and f"Đã gửi đến {sent} nơi nhận, 0 lỗi" in done.text
    assert sent > 5 and _status(desk.url, letter) == "sent"


def test_another_district_can_neither_see_nor_approve_cao_lo_draft(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    other = desk.person("vhtt-trangdinh-tp")
    inbox = other.get("/inbox").text
    assert f"/letters/{desk.letters['180.VHTT']}" in inbox and f"/letters/{letter}" not in inbox
    assert other.get(f"/letters/{letter}").status_code == 403  # by URL
    assert other.get(f"/letters/{letter}/page").status_code == 403
    # form replay: Cao Lộc's own approve form, posted with the other district's (valid) session and token
    assert other.post(f"/letters/{letter}/approve").status_code == 403
    assert other.post(f"/letters/{letter}/edit", {"section-0-title": "X", "section-0-items": "Y"}).status_code == 403
    assert other.post(f"/letters/{letter}/reject", {"reason": "không"}).status_code == 403
    assert other.post(f"/letters/{letter}/reject", {"reason": ""}).status_code == 403  # refused before the form
    assert other.post(f"/letters/{letter}/edit", {"section-0-title": "", "section-0-items": "Y"}).status_code == 403
    # changing an id: their own letter's form, sent to Cao Lộc's letter
    own = desk.letters["180.VHTT"]
    other.get(f"/letters/{own}")
    assert other.post(f"/letters/{letter}/approve").status_code == 403
    assert _status(desk.url, letter) == "draft"
    refused = _refusals(desk.url, "vhtt-trangdinh-tp")
    assert {r["action"] for r in refused} >= {"view", "approve", "edit", "reject"}
    assert all(r["letter"] == letter for r in refused)
    # and Cao Lộc's head, with Cao Lộc's own form and token, in another person's session: a CSRF refusal
    head = desk.person("vhtt-caoloc-tp")
    head.get(f"/letters/{letter}")
    assert other.post(f"/letters/{letter}/approve", csrf=head.csrf).status_code == 403
    assert _status(desk.url, letter) == "draft"


def test_a_form_without_its_csrf_token_is_refused(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    head = desk.person("vhtt-caoloc-tp")
    head.get(f"/letters/{letter}")
    missing = head.post(f"/letters/{letter}/approve", csrf=False)  # type: ignore[arg-type]
    forged = head.post(f"/letters/{letter}/approve", csrf="x" * 43)
    assert missing.status_code == forged.status_code == 403
    assert "Biểu mẫu không hợp lệ" in missing.text
    assert _status(desk.url, letter) == "draft"
    assert [r["action"] for r in _refusals(desk.url, "vhtt-caoloc-tp")] == ["csrf", "csrf"]
    stranger = desk.person()
    assert stranger.post("/sign-in", {"account": "vhtt-caoloc-tp", "password": PASSWORD}, csrf=False).status_code == 403  # type: ignore[arg-type]


def test_wrong_passwords_are_throttled_even_before_the_right_one(desk: Any) -> None:
    guesser = desk.person()
    for _ in range(accounts.MAX_FAILURES_ACCOUNT):
        wrong = guesser.sign_in("vhtt-caoloc-tp", "đoán mò 123456")
        assert wrong.status_code == 401 and "không đúng" in wrong.text
    blocked = guesser.sign_in("vhtt-caoloc-tp", PASSWORD)
    assert blocked.status_code == 429 and "Hãy thử lại sau" in blocked.text
    assert guesser.get("/inbox").url.path == "/sign-in"  # not signed in
    reasons = [r["reason"] for r in _refusals(desk.url, "vhtt-caoloc-tp") if r["action"] == "sign-in"]
    assert reasons == ["wrong"] * accounts.MAX_FAILURES_ACCOUNT + ["throttled"]
    assert desk.person("vhtt-trangdinh-tp").get("/inbox").status_code == 200  # other accounts unaffected


def test_throttling_ends_when_the_failures_age_out(sqlite_url: str) -> None:
    from db.migrate import upgrade

    upgrade(sqlite_url)
    start = utcnow()
    with transaction(sqlite_url) as session:
        accounts.add_account(session, "p", "P", "person", PASSWORD)
        for n in range(accounts.MAX_FAILURES_ACCOUNT):
            accounts.authenticate(session, "p", "sai", "127.0.0.2", start + timedelta(seconds=n))
        refused = accounts.authenticate(session, "p", PASSWORD, "127.0.0.2", start + timedelta(minutes=1))
        assert isinstance(refused, accounts.SignInRefused) and refused.reason == "throttled"
        assert refused.retry_minutes == 14
        for minute in range(2, 8):  # refused while throttled: not counted as failures, the lock does not grow
            still = accounts.authenticate(session, "p", "sai", "127.0.0.2", start + timedelta(minutes=minute))
            assert isinstance(still, accounts.SignInRefused) and still.reason == "throttled"
        later = accounts.authenticate(
            session, "p", PASSWORD, "127.0.0.2", start + accounts.WINDOW + timedelta(seconds=10)
        )
        assert not isinstance(later, accounts.SignInRefused)


def test_html_in_a_directive_or_a_report_is_shown_as_text(desk: Any) -> None:
    department = desk.person("stttt-langson-gd")
    escaped = "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;&lt;img src=x"
    for path in ("/cascades", f"/cascades/{_cascade(desk)}", f"/letters/{desk.letters['20.STTTT']}/page"):
        text = department.get(path).text
        assert escaped in text and "<script>alert" not in text and "<img src=x" not in text, path
    clerk, request = _cao_loc_signed_and_its_clerk(desk)
    sent = clerk.post(f"/reports/{request}", {"done": EVIL, "figures": "Số buổi: 3", "proposals": EVIL})
    assert sent.status_code == 200
    assert escaped in sent.text and "<script>alert" not in sent.text and "<img src=x" not in sent.text
    assert "script-src 'none'" in sent.headers["content-security-policy"]


def test_an_auditor_reads_everything_and_changes_nothing(desk: Any) -> None:
    auditor = desk.person("kiemtra")
    cascade = _cascade(desk)
    letter = desk.letters["183.VHTT"]
    assert auditor.get(f"/cascades/{cascade}").status_code == 200
    assert auditor.get(f"/letters/{letter}").status_code == 200
    replay = auditor.get(f"/cascades/{cascade}/replay")
    assert replay.status_code == 200 and "Diễn biến" in replay.text
    assert auditor.post(f"/letters/{letter}/approve").status_code == 403
    assert auditor.post(f"/letters/{letter}/reject", {"reason": "thử"}).status_code == 403
    assert _status(desk.url, letter) == "draft"
    assert {r["action"] for r in _refusals(desk.url, "kiemtra")} == {"approve", "reject"}


def test_a_commune_clerk_reports_with_an_attachment_and_sees_it_late(desk: Any) -> None:
    clerk, request = _cao_loc_signed_and_its_clerk(desk)
    owed = clerk.get("/reports").text
    with transaction(desk.url) as session:
        due = session.get_one(ReportRequest, request).due
    assert due is not None and f"/reports/{request}" in owed and f"{due:%d/%m/%Y}" in owed
    assert re.search(r"Quá hạn \d+ ngày làm việc", owed)
    clerk.get(f"/reports/{request}")  # the form's token
    scan = b"%PDF-1.4 bien ban\n" + bytes(range(256))
    sent = clerk.post(
        f"/reports/{request}",
        {"done": "Đã tuyên truyền trên loa truyền thanh.", "figures": "Số buổi tuyên truyền: 1.234\nSố lượt: 7,5"},
        files={"attachment": ("biên bản.pdf", scan, "application/pdf")},
    )
    assert sent.status_code == 200 and "Đã nhận báo cáo" in sent.text and "nộp muộn" in sent.text
    link = re.search(r'href="(/reports/\d+/attachments/\d+)"', sent.text)
    assert link and clerk.get(link.group(1)).content == scan
    with transaction(desk.url) as session:
        report = session.scalars(select(Report).where(Report.request_id == request)).one()
        assert report.late and json.loads(report.content)["figures"] == {"Số buổi tuyên truyền": 1234.0, "Số lượt": 7.5}
    # another commune's clerk may not read it, nor send one for Đồng Đăng
    other = desk.person("vhtt-trangdinh-tp")
    assert other.get(f"/reports/{request}").status_code == 403
    assert other.get(link.group(1)).status_code == 403
    assert other.post(f"/reports/{request}", {"done": "giả mạo"}).status_code == 403


def test_a_new_password_ends_open_sessions(desk: Any) -> None:
    head = desk.person("vhtt-caoloc-tp")
    assert head.get("/inbox").url.path == "/inbox"
    with transaction(desk.url) as session:
        accounts.set_password(session, "vhtt-caoloc-tp", "một mật khẩu mới hẳn")
    assert head.get("/inbox").url.path == "/sign-in"


def test_a_cookie_captured_before_sign_out_signs_nobody_in_after_it(desk: Any) -> None:
    head = desk.person("vhtt-caoloc-tp")
    assert head.get("/inbox").url.path == "/inbox"
    captured = head.http.cookies["chidao_desk"]
    token = head.csrf
    head.post("/sign-out")
    thief = desk.person()
    thief.http.cookies.set("chidao_desk", captured)
    assert thief.get("/inbox").url.path == "/sign-in"  # reading
    letter = desk.letters["183.VHTT"]
    posted = thief.post(f"/letters/{letter}/reject", {"reason": "giả mạo"}, csrf=token)  # posting
    assert posted.url.path == "/sign-in" and _status(desk.url, letter) == "draft"


def test_a_disabled_account_is_out_at_once_and_cannot_sign_in(desk: Any) -> None:
    head = desk.person("vhtt-caoloc-tp")
    captured = head.http.cookies["chidao_desk"]
    disabled = CliRunner().invoke(main, ["users", "disable", "vhtt-caoloc-tp"])
    assert disabled.exit_code == 0 and "1 open session(s) ended" in disabled.output
    assert head.get("/inbox").url.path == "/sign-in"
    again = desk.person()
    again.http.cookies.set("chidao_desk", captured)
    assert again.get("/inbox").url.path == "/sign-in"
    assert again.sign_in("vhtt-caoloc-tp").url.path == "/sign-in"  # the right password, still refused


def test_an_altered_session_cookie_is_not_a_session(desk: Any) -> None:
    head = desk.person("vhtt-caoloc-tp")
    cookie = head.http.cookies["chidao_desk"]
    body, mac = cookie.rsplit(".", 1)
    head.http.cookies.set("chidao_desk", body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac)
    assert head.get("/inbox").url.path == "/sign-in"


def _cascade(desk: Any) -> int:
    return _cascade_of_letter(desk.url, desk.letters["20.STTTT"])


def _request(desk: Any, unit: str) -> int:
    with transaction(desk.url) as session:
        return session.scalars(select(ReportRequest.id).where(ReportRequest.unit_code == unit)).one()


def test_users_add_names_only_people_of_the_hierarchy(chidao_env: str) -> None:
    runner = CliRunner()
    hierarchy = str(LANGSON / "hierarchy.yaml")
    added = runner.invoke(
        main, ["users", "add", "vhtt-caoloc-tp", "--hierarchy", hierarchy, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    assert "Hoàng Thị Phương Huệ" in added.output and "183.VHTT" in added.output
    unknown = runner.invoke(
        main, ["users", "add", "ai-do", "--hierarchy", hierarchy, "--password-stdin"], input="x" * 12
    )
    assert (
        unknown.exit_code == 2
        and "hierarchy.yaml: no approver, drafter or reporter has the id 'ai-do'" in unknown.output
    )
    short = runner.invoke(
        main, ["users", "add", "kt", "--auditor", "--name", "Kiểm tra", "--password-stdin"], input="ngắn\n"
    )
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    again = runner.invoke(
        main, ["users", "add", "vhtt-caoloc-tp", "--hierarchy", hierarchy, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert again.exit_code == 2 and "exists already" in again.output
    changed = runner.invoke(
        main, ["users", "passwd", "vhtt-caoloc-tp", "--password-stdin"], input="mật khẩu mới đủ dài\n"
    )
    assert changed.exit_code == 0, changed.output
    with transaction(chidao_env) as session:
        assert not isinstance(
            accounts.authenticate(session, "vhtt-caoloc-tp", "mật khẩu mới đủ dài", "t"), accounts.SignInRefused
        )
        assert isinstance(accounts.authenticate(session, "vhtt-caoloc-tp", PASSWORD, "t"), accounts.SignInRefused)


def test_the_department_plans_and_starts_a_cascade_from_a_pasted_directive(
    prefect_server: None, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.migrate import upgrade

    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", sqlite_url)
    upgrade(sqlite_url)
    with transaction(sqlite_url) as session:
        for person in ("stttt-langson-gd", "vhtt-caoloc-tp"):
            accounts.add_account(session, person, person, "person", PASSWORD)
    future = datetime.now(VN).date() + timedelta(days=90)  # started today: its deadline must be ahead
    text = langson_directive(tmp_path, due=future).read_text(encoding="utf-8")
    with desk_server(sqlite_url) as base:
        department, district = Person(base), Person(base)
        try:
            department.sign_in("stttt-langson-gd")
            department.get("/start")
            broken = department.post("/start", {"text": text.replace("issuer:", "issuer_code:", 1)})
            assert broken.status_code == 400 and "Ô nhập văn bản, dòng " in broken.text and "issuer" in broken.text
            plan = department.post("/start", {"text": text})
            assert plan.status_code == 200 and "Khởi động đợt triển khai" in plan.text
            levels = re.findall(r"<strong>Cấp (\d)</strong>: (\d+) văn bản", plan.text)
            assert levels[0] == ("0", "1") and int(levels[1][1]) > 5
            with transaction(sqlite_url) as session:  # planning stored nothing
                assert session.scalars(select(LetterRecord)).first() is None
            district.sign_in("vhtt-caoloc-tp")
            district.get("/start")
            assert "Chỉ lãnh đạo đơn vị phát hành" in district.post("/start", {"text": text}).text
            assert district.post("/start/run", {"text": text}).status_code == 403
            started = department.post("/start/run", {"text": text})
            assert started.status_code == 200 and "/start/" in str(started.url)
            for _ in range(240):
                page = department.get(str(started.url.path))
                if "Đang soạn" not in page.text:
                    break
                time.sleep(0.5)
            assert "Đã khởi động đợt" in page.text, page.text
            with transaction(sqlite_url) as session:
                drafted = session.scalars(select(LetterRecord)).all()
                assert len(drafted) == sum(int(n) for _, n in levels)
                assert {r.status for r in drafted} == {"draft"}
            assert f"/letters/{min(r.id for r in drafted)}" in department.get("/inbox").text
            assert [r["action"] for r in _refusals(sqlite_url, "vhtt-caoloc-tp")] == ["start a cascade"]
        finally:
            department.http.close()
            district.http.close()


def test_a_bad_edit_or_a_rejection_without_reason_changes_nothing_and_says_why(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    head = desk.person("vhtt-caoloc-tp")
    head.get(f"/letters/{letter}")
    with transaction(desk.url) as session:
        before = session.get_one(LetterRecord, letter).markdown
    untitled = head.post(f"/letters/{letter}/edit", {"section-0-title": "", "section-0-items": "Một ý không có mục"})
    assert untitled.status_code == 400 and "Mục 1 có nội dung nhưng chưa có tiêu đề" in untitled.text
    assert "Một ý không có mục" in untitled.text  # what was typed is kept in the form
    no_reason = head.post(f"/letters/{letter}/reject", {"reason": "  "})
    assert no_reason.status_code == 400 and "Hãy ghi lý do trả lại" in no_reason.text
    with transaction(desk.url) as session:
        row = session.get_one(LetterRecord, letter)
        assert row.markdown == before and row.status == "draft" and row.generated is None
    rejected = head.post(f"/letters/{letter}/reject", {"reason": "Bổ sung nội dung về loa truyền thanh"})
    assert rejected.status_code == 200 and "Đã trả lại dự thảo" in rejected.text
    assert _status(desk.url, letter) == "rejected"


def test_the_department_sees_a_failed_delivery_and_sends_it_again(
    sqlite_url: str, maildir: Path, smtp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mail.sink import start_sink
    from tests.test_dispatch import Refusing

    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    refusing = Refusing(maildir, {"ubnd.06184@langson.example"}, {})
    controller = start_sink(maildir, int(smtp_url.rsplit(":", 1)[1]), refusing)
    try:
        ids = desk_cascade(sqlite_url, smtp_url, langson_directive(tmp_path))
        with time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True), desk_server(sqlite_url) as base:
            head, department, auditor = Person(base), Person(base), Person(base)
            try:
                head.sign_in("vhtt-caoloc-tp")
                head.get(f"/letters/{ids['183.VHTT']}")
                signed = head.sign(ids["183.VHTT"])
                assert re.search(r"Đã gửi đến \d+ nơi nhận, 1 lỗi", signed.text)
                department.sign_in("stttt-langson-gd")
                cascade = _cascade_of_letter(sqlite_url, ids["183.VHTT"])
                page = department.get(f"/cascades/{cascade}")
                assert "ubnd.06184@langson.example" in page.text and "550 5.1.1" in page.text
                auditor.sign_in("kiemtra")
                assert "Gửi lại" not in auditor.get(f"/cascades/{cascade}").text
                refusing.refuse.clear()  # the commune's mailbox works again
                before = len(letter_messages(maildir))
                again = department.post(f"/cascades/{cascade}/resend", {"letter": ids["183.VHTT"], "unit": "06184"})
                assert "Đã đưa 1 nơi nhận vào hàng gửi lại" in again.text and "550 5.1.1" not in again.text
                assert len(letter_messages(maildir)) == before + 1
                assert auditor.post(f"/cascades/{cascade}/resend", {"letter": ids["183.VHTT"]}).status_code == 403
            finally:
                for who in (head, department, auditor):
                    who.http.close()
        with transaction(sqlite_url) as session:
            retried = session.scalars(select(Event).where(Event.kind == "delivery.retried")).one()
            assert retried.actor == "stttt-langson-gd" and json.loads(retried.payload) == {"units": ["06184"]}
    finally:
        controller.stop()


def _cascade_of_letter(url: str, letter_id: int) -> int:
    with transaction(url) as session:
        return session.get_one(LetterRecord, letter_id).cascade_id


def test_refusals_outside_any_cascade_form_one_chain_even_when_simultaneous(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from db.events import GENESIS, event_hash
    from db.migrate import upgrade

    upgrade(database_url)
    with transaction(database_url) as session:
        accounts.add_account(session, "p", "P", "person", PASSWORD)

    def guess(n: int) -> None:
        with transaction(database_url) as session:
            accounts.authenticate(session, "p", f"sai {n}", f"127.0.1.{n}")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(guess, range(12)))
    with transaction(database_url) as session:
        chain = session.scalars(select(Event).where(Event.cascade_id.is_(None)).order_by(Event.seq)).all()
        assert [e.kind for e in chain] == ["account.added"] + ["attempt.refused"] * 12
        assert [e.seq for e in chain] == list(range(1, 14))
        previous = GENESIS
        for event in chain:
            assert event.prev_hash == previous and event.hash == event_hash(previous, event)
            previous = event.hash


def test_unknown_or_malformed_addresses_get_a_page_in_vietnamese(desk: Any) -> None:
    head = desk.person("vhtt-caoloc-tp")
    for path in (
        "/letters/abc",
        "/letters/999999",
        "/letters/99999999999999999999999",
        "/khong-co",
        "/reports/999999",
        "/cascades/999999",
        "/reports/1/attachments/-1",
    ):
        page = head.get(path)
        assert page.status_code == 404 and "Không" in page.text and "text/html" in page.headers["content-type"], path
    assert head.http.get("/inbox", params={}).status_code == 200
    assert head.post("/letters/abc/approve").status_code == 404


def test_a_stale_cookie_does_not_stop_anyone_signing_in(desk: Any) -> None:
    person = desk.person()
    person.http.cookies.set("chidao_desk", "garbage.value")  # another desk's, an old key's, or tampered
    assert person.sign_in("vhtt-caoloc-tp").url.path == "/inbox"


def test_an_oversized_upload_or_figure_is_refused_with_a_page(desk: Any) -> None:
    clerk, request = _cao_loc_signed_and_its_clerk(desk)
    big = clerk.post(
        f"/reports/{request}", {"done": "Đã làm."}, files={"attachment": ("to.bin", b"0" * (13 * 1024 * 1024))}
    )
    assert big.status_code == 413 and "quá lớn" in big.text
    huge = clerk.post(f"/reports/{request}", {"done": "Đã làm.", "figures": "Số buổi: " + "9" * 400})
    assert huge.status_code == 400 and "Dòng 1 của ô Số liệu" in huge.text
    with transaction(desk.url) as session:
        assert session.scalars(select(Report)).first() is None


def _cao_loc_signed_and_its_clerk(desk: Any) -> tuple[Person, int]:
    """Cao Lộc's letter signed and sent; the Đồng Đăng clerk signed in, on the form of the report it owes."""
    head = desk.person("vhtt-caoloc-tp")
    head.get(f"/letters/{desk.letters['183.VHTT']}")
    head.sign(desk.letters["183.VHTT"])
    desk.now.move_to(datetime(2024, 2, 19, 9, tzinfo=VN))  # the communes' deadline has passed
    clerk = desk.person("vhxh-06184")
    request = _request(desk, "06184")
    clerk.get(f"/reports/{request}")
    return clerk, request


def test_chidao_serve_believes_forwarded_addresses_only_from_a_named_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import subprocess
    import sys

    from mail.sink import free_port

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", url)
    added = CliRunner().invoke(
        main, ["users", "add", "kt", "--auditor", "--name", "Kiểm tra", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    chidao = shutil.which("chidao") or str(Path(sys.executable).with_name("chidao"))
    for proxy in ([], ["--trusted-proxy", "127.0.0.1"]):
        port = free_port()
        server = subprocess.Popen([chidao, "serve", "--port", str(port), *proxy])
        try:
            person = Person(f"http://127.0.0.1:{port}")
            for _ in range(100):
                try:
                    person.get("/sign-in")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            person.http.headers["X-Forwarded-For"] = "127.0.0.9"
            assert person.sign_in("kt", "sai mật khẩu rồi").status_code == 401
            assert person.sign_in("kt").url.path == "/cascades"
            person.http.close()
        finally:
            server.terminate()
            server.wait(10)
    with transaction(url) as session:
        seen = session.scalars(select(SignInAttempt.address).order_by(SignInAttempt.id)).all()
    assert seen == ["127.0.0.1", "127.0.0.1", "127.0.0.9", "127.0.0.9"]


def test_hostile_directives_on_the_start_page_are_form_errors_with_the_headers(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.migrate import upgrade

    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", sqlite_url)
    upgrade(sqlite_url)
    with transaction(sqlite_url) as session:
        accounts.add_account(session, "stttt-langson-gd", "Giám đốc", "person", PASSWORD)
        accounts.add_account(session, "vhxh-06184", "Văn thư xã", "person", PASSWORD)
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    text = langson_directive(tmp_path).read_text(encoding="utf-8")
    bad_date = text.replace("due: 2024-02-20", "due: 2023-02-30")
    with desk_server(sqlite_url) as base:
        department, clerk = Person(base), Person(base)
        try:
            department.sign_in("stttt-langson-gd")
            department.get("/start")
            for posted, says in ((bomb, "neo và bí danh của YAML"), (bad_date, "ngày không có thật")):
                answer = department.post("/start", {"text": posted})
                assert answer.status_code == 400 and says in answer.text, answer.text[-500:]
                assert answer.headers["content-security-policy"].startswith("default-src 'self'")
            huge = department.post("/start", files={"file": ("big.yaml", b"x: " + b"y" * (2 * 1024 * 1024))})
            assert huge.status_code in (400, 413) and "x-frame-options" in huge.headers
            # a commune clerk does not even see the start page
            assert clerk.sign_in("vhxh-06184").url.path == "/reports"
            assert clerk.get("/start").status_code == 403
        finally:
            department.http.close()
            clerk.http.close()
