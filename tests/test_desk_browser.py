"""The desk in Debian's Chromium (Playwright), as its three kinds of users work: Cao Lộc's head signs a
draft after editing an item and sees it go to the SMTP sink; a commune clerk sends a late report; an
auditor opens the replay. Screenshots of every page are left in CHIDAO_SCREENSHOTS (else the test's tmp)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from db.engine import transaction
from db.models import LetterRecord, Report, ReportRequest
from mail.sink import messages
from tests.printed import attached_pdf, pdf_text
from tests.steps import PASSWORD, desk_cascade, desk_server, langson_directive
from tests.wording import DESK_ALLOWED, english_on_page

pytestmark = pytest.mark.browser

VN = ZoneInfo("Asia/Ho_Chi_Minh")
EDITED = "Phòng Văn hóa và Thông tin huyện Cao Lộc bổ sung: treo băng rôn tại trung tâm thị trấn Đồng Đăng."


def sign_in_page(page: Any, base: str, account: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#account", account)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def _sign_out(page: Any) -> None:
    page.click("header button")
    page.wait_for_url(re.compile(r".*/sign-in$"))


def test_approver_clerk_and_auditor_work_in_the_browser(
    request: pytest.FixtureRequest,
    sqlite_url: str,
    sink: Path,
    smtp_url: str,
    tmp_path: Path,
    screenshots: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    ids = desk_cascade(sqlite_url, smtp_url, langson_directive(tmp_path))
    letter = ids["183.VHTT"]
    # The districts sign the day after the department (before their communes' deadline of 07/02/2024); the
    # clock then moves on past it, so the clerk reports late.
    with time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True) as clock, desk_server(sqlite_url) as base:
        browser = request.getfixturevalue("browser")
        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        english: dict[str, list[str]] = {}  # every page a user reaches, in Vietnamese
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # Cao Lộc's head: the inbox, the draft as printed, an edited item, the signature, the dispatch
        sign_in_page(page, base, "vhtt-caoloc-tp")
        page.wait_for_url(re.compile(r".*/inbox$"))
        assert page.locator(f"a[href='/letters/{letter}']").count() == 1
        page.screenshot(path=str(screenshots / "desk-1-inbox.png"), full_page=True)
        english["desk-1-inbox.png"] = english_on_page(page)
        page.click(f"a[href='/letters/{letter}']")
        printed = page.locator(".sheet")
        assert printed.locator("text=Thực hiện Công văn số").count() >= 1
        page.screenshot(path=str(screenshots / "desk-2-draft.png"), full_page=True)
        english["desk-2-draft.png"] = english_on_page(page)
        items = page.locator("#section-0-items")
        first, *rest = items.input_value().split("\n")
        items.fill("\n".join([EDITED, *rest]))
        page.click("button:has-text('Lưu nội dung sửa')")
        page.wait_for_selector("text=Đã lưu nội dung sửa")
        assert page.locator(".diff .add", has_text=EDITED).count() == 1
        assert page.locator(".diff .del", has_text=first[:40]).count() == 1
        assert printed.locator(f"text={EDITED}").count() == 1
        page.screenshot(path=str(screenshots / "desk-3-edited.png"), full_page=True)
        english["desk-3-edited.png"] = english_on_page(page)
        before = len(messages(sink))
        page.click("button:has-text('Xem lại trước khi ký')")  # the page shows the letter exactly as it will be signed
        page.wait_for_selector("h1:has-text('Xem lại trước khi ký')")
        assert page.locator(".sheet", has_text=EDITED).count() == 1
        assert page.locator(".sheet", has_text="Số: 01/VHTT").count() == 1
        page.screenshot(path=str(screenshots / "desk-3b-confirm.png"), full_page=True)
        english["desk-3b-confirm.png"] = english_on_page(page)
        page.click("button:has-text('Ký số và gửi đến')")
        notice = page.locator("[role=status]")
        notice.wait_for()
        sent = messages(sink)[before:]
        assert f"Đã gửi đến {len(sent)} nơi nhận, 0 lỗi" in notice.inner_text()
        with transaction(sqlite_url) as session:
            record = session.get_one(LetterRecord, letter)
            assert record.status == "sent" and record.number == 1 and EDITED in record.markdown
        assert len(sent) >= 10
        texts = [pdf_text(attached_pdf(raw)) for raw in sent]  # the signed PDF as a receiving office reads it
        assert all(EDITED in text for text in texts)
        assert all(re.search(r"Số: 01 ?/VHTT", text) for text in texts)
        page.screenshot(path=str(screenshots / "desk-4-approved.png"), full_page=True)
        english["desk-4-approved.png"] = english_on_page(page)
        mobile = phone.new_page()
        mobile.goto(f"{base}/sign-in")
        mobile.screenshot(path=str(screenshots / "desk-phone-sign-in.png"), full_page=True)
        english["desk-phone-sign-in.png"] = english_on_page(mobile)
        _sign_out(page)

        # the commune clerk of Đồng Đăng: the report owed, late, sent with a figure and an attachment
        clock.move_to(datetime(2024, 2, 19, 9, tzinfo=VN))
        sign_in_page(page, base, "vhxh-06184")
        page.click("text=Báo cáo phải nộp")
        assert page.locator(".tag.overdue").count() == 1
        page.screenshot(path=str(screenshots / "desk-5-reports-owed.png"), full_page=True)
        english["desk-5-reports-owed.png"] = english_on_page(page)
        page.click("a[href^='/reports/']:not([href='/reports'])")
        page.fill("#done", "Đã tuyên truyền trên hệ thống loa truyền thanh thị trấn <b>3 lần</b>.")
        page.fill("#figures", "Số buổi tuyên truyền: 3\nSố băng rôn: 12")
        page.fill("#proposals", "Hỗ trợ kinh phí sửa chữa loa truyền thanh.")
        attachment = tmp_path / "biên bản.txt"
        attachment.write_text("Biên bản kiểm tra hệ thống loa.", encoding="utf-8")
        page.set_input_files("#attachment", str(attachment))
        page.click("button:has-text('Nộp báo cáo')")
        page.wait_for_selector("text=Đã nhận báo cáo")
        assert "nộp muộn" in page.locator("[role=status]").inner_text()
        assert page.locator("p", has_text="<b>3 lần</b>").count() == 1  # the clerk's markup, shown as typed
        assert page.locator("b", has_text="3 lần").count() == 0
        page.screenshot(path=str(screenshots / "desk-6-report-sent.png"), full_page=True)
        english["desk-6-report-sent.png"] = english_on_page(page)
        with transaction(sqlite_url) as session:
            owed = session.scalars(select(ReportRequest).where(ReportRequest.unit_code == "06184")).one()
            report = session.scalars(select(Report).where(Report.request_id == owed.id)).one()
            assert owed.status == "late" and report.late and report.submitted_by == "vhxh-06184"
        _sign_out(page)

        # the auditor: every cascade, the tree by state, the replay
        sign_in_page(page, base, "kiemtra")
        page.wait_for_url(re.compile(r".*/cascades$"))
        page.click("a[href^='/cascades/']")
        assert page.locator("text=Đã báo cáo").count() >= 1 or page.locator(".tag.late").count() >= 1
        assert page.locator("form[action$='/approve']").count() == 0
        page.screenshot(path=str(screenshots / "desk-7-cascade.png"), full_page=True)
        english["desk-7-cascade.png"] = english_on_page(page)
        page.click("text=Xem lại toàn bộ diễn biến")
        page.wait_for_selector("text=Diễn biến")
        assert page.locator("text=vhxh-06184").count() >= 1 and page.locator("text=vhtt-caoloc-tp").count() >= 1
        page.screenshot(path=str(screenshots / "desk-8-replay.png"))
        # the replay names who started the cascade: tests/steps.py's actor id "test"
        english["desk-8-replay.png"] = english_on_page(page, DESK_ALLOWED | {"test"})
        assert dialogs == []  # nothing on any page ran a script the data brought
        assert not any(english.values()), english
        phone.close()
        context.close()
