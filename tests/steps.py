"""Steps several tests take, through the same functions the flow and the CLI call."""

from datetime import date
from pathlib import Path

from chidao import approval
from chidao.cascade import begin, draft_below, load_inputs
from chidao.dispatch import dispatch
from db.engine import transaction
from db.letters import list_letters
from db.migrate import upgrade
from mail.smtp import SmtpConfig
from tests.conftest import DATA

SIGNED = date(2024, 2, 5)


def draft_cascade(url: str, directive: Path, day: date = date(2023, 12, 1)) -> dict[str, int]:
    """A cascade's drafts through the same steps the flow runs; returns letter ids by unit."""
    upgrade(url)
    d, h = load_inputs(directive, DATA / "mini.yaml")
    with transaction(url) as session:
        begun = begin(session, d, h, day, "test")
        draft_below(session, begun.cascade_id, [begun.root_letter_id], "test")
        return {row.unit_code: row.id for row in list_letters(session, cascade_id=begun.cascade_id)}


def with_dated_report(mini_directive: Path) -> Path:
    """The mini directive with a dated report requirement across Tết 2024."""
    text = mini_directive.read_text(encoding="utf-8").replace(
        "report:\n  due: on_request", "report:\n  due: 2024-02-20\n  lead_days: 2"
    )
    mini_directive.write_text(text, encoding="utf-8")
    return mini_directive


def send_down(url: str, smtp_url: str, directive: Path) -> dict[str, int]:
    """Draft, approve the department's and Đông's letters on 5/2/2024, and deliver them."""
    ids = draft_cascade(url, directive)
    with transaction(url) as session:
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)
        approval.approve(session, ids["901.P"], "p901-tp", on=SIGNED)
    report = dispatch(url, SmtpConfig.from_url(smtp_url))
    assert report.count("failed") == report.count("pending") == 0
    return ids
