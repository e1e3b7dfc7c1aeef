"""`chidao replay --format html`: one self-contained page an auditor opens in a browser."""

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from tests.steps import send_down

pytestmark = pytest.mark.browser


@pytest.fixture
def replay_page(chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str, tmp_path: Path) -> Path:
    send_down(chidao_env, smtp_url, mini_directive)
    page = tmp_path / "replay.html"
    result = CliRunner().invoke(main, ["replay", "1", "--format", "html", "--output", str(page)])
    assert result.exit_code == 0, result.output + result.stderr
    return page


def unit_states(page: Any) -> dict[str, str]:
    found: dict[str, str] = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.tree .unit')]"
        ".map(e => [e.dataset.code, e.className.replace('unit ', '')]))"
    )
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_shows_the_tree_at_each_step_and_every_letter(
    replay_page: Path, screenshots: Path, request: pytest.FixtureRequest
) -> None:
    browser = request.getfixturevalue("browser")  # after the cascade: see the fixture
    html = replay_page.read_text(encoding="utf-8")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # self-contained
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(replay_page.as_uri())
    # At the last step: the two letters that went out are sent, Tây's still a draft, Đông's communes reached.
    final = unit_states(page)
    assert final["90.S"] == "sent" and final["901.P"] == "sent" and final["902.P"] == "drafted"
    assert final["90101"] == "received" and final["90201"] == "waiting"
    page.screenshot(path=str(screenshots / "replay-final.png"), full_page=False)
    # Back to the first step: the cascade has only started; nobody has anything yet.
    page.locator("#step").fill("0")
    assert set(unit_states(page).values()) == {"waiting"}
    assert "bắt đầu đợt" in page.locator("#step-words").inner_text()
    # The step at which the department's letter was signed: it alone is approved.
    approved_step = page.locator("tbody tr", has_text="ký, cấp số văn bản").first.get_attribute("data-step")
    page.locator("#step").fill(approved_step)
    at_signing = unit_states(page)
    assert at_signing["90.S"] == "approved" and at_signing["901.P"] == "drafted"
    assert page.locator("tr.current").count() == 1 and page.locator("tr.future").count() > 0
    page.screenshot(path=str(screenshots / "replay-signing.png"), full_page=False)
    # Every letter is there as printed, in its frame.
    assert page.locator("details iframe").count() == 3
    page.locator("#letter-2 summary").click()
    frame = page.frame_locator("#letter-2 iframe")
    assert "Số: 01/" in frame.locator("body").inner_text() and "Kính gửi" in frame.locator("body").inner_text()
    page.locator("#letter-2").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "replay-letter.png"), full_page=False)
    assert (screenshots / "replay-final.png").stat().st_size > 10_000
    page.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_text_in_a_letter_is_shown_as_text_not_run(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str, tmp_path: Path
) -> None:
    text = mini_directive.read_text(encoding="utf-8").replace("Tổ chức", "<script>alert(1)</script> Tổ chức", 1)
    mini_directive.write_text(text, encoding="utf-8")
    send_down(chidao_env, smtp_url, mini_directive)
    page = tmp_path / "replay.html"
    CliRunner().invoke(main, ["replay", "1", "--format", "html", "--output", str(page)])
    html = page.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "alert(1)" in html
