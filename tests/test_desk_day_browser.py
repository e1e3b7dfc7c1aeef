"""A working day on the desk in Debian's Chromium (Playwright), at 1280 px and on a 390 px phone: Cao Lộc's
drafter prepares and submits the letter, the head sends it back with a reason, the drafter sees the reason,
edits and submits again, the head types one more line and signs through the confirmation page (what was typed
is what is signed); the commune clerk of Đồng Đăng finds the letter in "văn bản đến" with its số đến; the head
follows her communes' reports. Every page reached is scanned for English. Screenshots are left in
CHIDAO_SCREENSHOTS (else the test's tmp)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from db.engine import transaction
from db.models import LetterRecord
from tests.steps import CAO_LOC_DRAFTER, desk_cascade, desk_server, langson_directive, with_drafters
from tests.test_desk_browser import sign_in_page
from tests.wording import english_on_page

pytestmark = pytest.mark.browser

VN = ZoneInfo("Asia/Ho_Chi_Minh")
EXAMPLE = Path(__file__).parents[1] / "examples" / "langson" / "directive-hsg-2023.yaml"
HEAD, CLERK = "vhtt-caoloc-tp", "vhxh-06184"
DRAFTED = "Chuyên viên thêm: treo băng rôn tại chợ Đồng Đăng."
REDRAFTED = "Chuyên viên sửa: treo 20 băng rôn tại chợ Đồng Đăng và cửa khẩu Hữu Nghị."
HEAD_LINE = "Lãnh đạo bổ sung khi ký: phối hợp với Đồn Biên phòng cửa khẩu Hữu Nghị."
REASON = "Ghi rõ số lượng băng rôn và địa điểm treo."


class Day:
    """Two browser windows (a desk and a phone), each page reached scanned for English and photographed."""

    def __init__(self, browser: Any, base: str, shots: Path) -> None:
        self.base, self.shots, self.dialogs = base, shots, []
        self.wide = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        self.phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1).new_page()
        self.english: dict[str, list[str]] = {}
        for page in (self.wide, self.phone):
            page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def sign_in(self, page: Any, account: str) -> None:
        page.context.clear_cookies()
        sign_in_page(page, self.base, account)
        page.wait_for_url(re.compile(r".*/(inbox|reports|cascades|received)$"))

    def look(self, page: Any, name: str) -> None:
        """Take the page's picture and scan what the reader sees (a mail server's own reply, marked lang=en,
        aside: it is shown as received, below its explanation in Vietnamese)."""
        width = page.viewport_size["width"]
        page.screenshot(path=str(self.shots / f"day-{name}-{width}.png"), full_page=True)
        found = english_on_page(page)
        if found:
            self.english[f"{name} ({page.url})"] = found


def test_a_working_day_on_the_desk_in_the_browser_at_desk_and_phone_widths(
    request: pytest.FixtureRequest,
    sqlite_url: str,
    sink: Path,
    smtp_url: str,
    tmp_path: Path,
    screenshots: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    hierarchy = with_drafters(tmp_path)
    ids = desk_cascade(sqlite_url, smtp_url, langson_directive(tmp_path), hierarchy)
    letter = ids["183.VHTT"]
    with (
        time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True) as clock,
        desk_server(sqlite_url, hierarchy) as base,
    ):
        day = Day(request.getfixturevalue("browser"), base, screenshots)
        desk, phone = day.wide, day.phone

        # The department's director composes a directive in the form, filled from the example file (the YAML
        # kept as the advanced view): the plan it gives is the file's own.
        day.sign_in(desk, "stttt-langson-gd")
        desk.goto(f"{base}/start")
        day.look(desk, "0-compose-blank")
        desk.click("summary:has-text('YAML (nâng cao)')")
        desk.set_input_files("#file", str(EXAMPLE))
        desk.click("button:has-text('Xem kế hoạch') >> nth=1")  # the advanced view's: the file as it is
        desk.wait_for_selector("h2:has-text('Kế hoạch:')")
        from_file = desk.locator("h2:has-text('Kế hoạch:') + *").inner_text()
        first_letter = desk.frame_locator("iframe.page").locator("body").inner_text()
        desk.goto(f"{base}/start")
        desk.click("summary:has-text('YAML (nâng cao)')")
        desk.set_input_files("#file", str(EXAMPLE))
        desk.click("button:has-text('Điền vào biểu mẫu')")
        desk.wait_for_function("document.querySelector('#subject').value.length > 0")
        assert desk.locator("#section-0-items").input_value().strip()
        desk.click("#compose button:has-text('Xem kế hoạch')")  # the form, as a person would send it
        desk.wait_for_selector("h2:has-text('Kế hoạch:')")
        assert desk.locator("h2:has-text('Kế hoạch:') + *").inner_text() == from_file
        assert desk.frame_locator("iframe.page").locator("body").inner_text() == first_letter
        day.look(desk, "0-compose-planned")

        # The drafter: the draft waits in her inbox; she adds an item and submits it to the head.
        day.sign_in(desk, CAO_LOC_DRAFTER)
        assert desk.locator(f"a[href='/letters/{letter}']").count() == 1
        day.look(desk, "1-drafter-inbox")
        desk.click(f"a[href='/letters/{letter}']")
        items = desk.locator("#section-0-items")
        items.fill(DRAFTED + "\n" + items.input_value())
        day.look(desk, "2-drafter-letter")
        desk.click("button:has-text('Trình lãnh đạo ký')")
        desk.wait_for_selector("text=Đã trình lãnh đạo ký")
        assert desk.locator(".sheet", has_text=DRAFTED).count() == 1

        # The head sends it back with a reason (first without one: refused, and nothing typed is lost).
        day.sign_in(desk, HEAD)
        desk.click(f"a[href='/letters/{letter}']")
        desk.click("button:has-text('Trả lại chuyên viên')")
        desk.wait_for_selector("text=Hãy ghi lý do trả lại")
        assert DRAFTED in desk.locator("#section-0-items").input_value()
        desk.fill("#reason", REASON)
        desk.click("button:has-text('Trả lại chuyên viên')")
        desk.wait_for_selector("text=Đã trả lại chuyên viên")
        day.look(desk, "3-head-sent-back")

        # The drafter, on her phone: the reason in the inbox and on the letter; she edits and submits again.
        day.sign_in(phone, CAO_LOC_DRAFTER)
        assert phone.locator("text=Bị trả lại").count() >= 1 and phone.locator(f"text={REASON}").count() >= 1
        day.look(phone, "4-drafter-returned")
        phone.click(f"a[href='/letters/{letter}']")
        assert phone.locator(".returned", has_text=REASON).count() == 1
        day.look(phone, "5-drafter-letter")
        items = phone.locator("#section-0-items")
        items.fill(items.input_value().replace(DRAFTED, REDRAFTED))
        phone.click("button:has-text('Trình lãnh đạo ký')")
        phone.wait_for_selector("text=Đã trình lãnh đạo ký")

        # The head types one more line and goes straight to signing: the confirmation shows the letter with
        # that line, the number it will take and its recipients; signing signs exactly that.
        desk.goto(f"{base}/letters/{letter}")
        items = desk.locator("#section-0-items")
        assert REDRAFTED in items.input_value()
        items.fill(items.input_value() + "\n" + HEAD_LINE)
        desk.click("button:has-text('Xem lại trước khi ký')")
        desk.wait_for_selector("h1:has-text('Xem lại trước khi ký')")
        sheet = desk.locator(".sheet")
        assert sheet.locator(f"text={HEAD_LINE}").count() == 1 and sheet.locator(f"text={REDRAFTED}").count() == 1
        assert sheet.locator("text=Số: 01/VHTT").count() == 1
        day.look(desk, "6-head-confirm")
        phone.context.clear_cookies()
        day.sign_in(phone, HEAD)
        phone.goto(f"{base}/letters/{letter}")
        phone.click("button:has-text('Xem lại trước khi ký')")
        phone.wait_for_selector("h1:has-text('Xem lại trước khi ký')")
        fits = phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert fits, "the confirmation page is wider than the phone"
        day.look(phone, "6-head-confirm")
        desk.click("button:has-text('Ký số và gửi đến')")
        desk.wait_for_selector("text=Đã gửi đến")
        day.look(desk, "7-head-signed")
        with transaction(sqlite_url) as session:
            signed = session.get_one(LetterRecord, letter)
            assert signed.status == "sent" and signed.number == 1
            assert REDRAFTED in signed.markdown and HEAD_LINE in signed.markdown and DRAFTED not in signed.markdown

        # The commune clerk, on her phone: the letter in "văn bản đến", with its số đến and the day received.
        day.sign_in(phone, CLERK)
        phone.click("text=Văn bản đến")
        row = phone.locator("tr", has_text="01/VHTT")
        assert row.count() == 1 and re.search(r"\b1/2024\b", row.inner_text()) and "06/02/2024" in row.inner_text()
        day.look(phone, "8-clerk-received")
        phone.goto(f"{base}/reports")
        day.look(phone, "9-clerk-reports")

        # Past the communes' deadline, the head follows her communes' reports from her cascade page.
        clock.move_to(datetime(2024, 2, 19, 9, tzinfo=VN))
        day.sign_in(desk, HEAD)
        desk.goto(f"{base}/cascades")
        desk.click("a[href$='/units/183.VHTT']")
        assert desk.locator("text=UBND thị trấn Đồng Đăng").count() >= 1
        assert desk.locator("text=quá hạn").count() >= 1
        day.look(desk, "10-head-communes")
        day.sign_in(phone, HEAD)
        phone.goto(desk.url)
        fits = phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert fits, "the communes' page is wider than the phone"
        day.look(phone, "10-head-communes")

        # every word a user reads is Vietnamese
        assert not day.english, "\n".join(f"{page}: {sorted(set(words))}" for page, words in day.english.items())
        assert day.dialogs == []
