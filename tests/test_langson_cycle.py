"""The whole cycle on the Lạng Sơn example across Tết 2024: letters out, some communes report on time, some
late, some never; reminders and escalations on working days, once each; Cao Lộc's and the department's
consolidated reports say exactly who reported and who did not."""

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from chidao import approval, reporting
from chidao.cascade import begin, draft_below, load_inputs
from chidao.dispatch import dispatch
from cli import main
from db.engine import transaction
from db.letters import list_letters
from db.migrate import upgrade
from db.models import LetterRecord
from mail.sink import copies
from mail.smtp import SmtpConfig
from reports.content import ReportContent
from tests.conftest import LANGSON

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAO_LOC = "183.VHTT"


def test_the_seed_cascade_reports_back_across_tet(
    sqlite_url: str, monkeypatch: object, sink: Path, smtp_url: str, tmp_path: Path
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("CHIDAO_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path))
    directive = tmp_path / "directive.yaml"
    directive.write_text(
        (LANGSON / "directive-hsg-2023.yaml")
        .read_text(encoding="utf-8")
        .replace("report:\n  due: on_request", "report:\n  due: 2024-02-16\n  lead_days: 2"),
        encoding="utf-8",
    )
    upgrade(sqlite_url)
    d, h = load_inputs(directive, LANGSON / "hierarchy.yaml")
    with transaction(sqlite_url) as session:
        begun = begin(session, d, h, date(2024, 2, 1), "test")
        draft_below(session, begun.cascade_id, [begun.root_letter_id], "test")
        letters = {r.unit_code: r.id for r in list_letters(session, cascade_id=begun.cascade_id)}
        approval.approve(session, letters["20.STTTT"], "stttt-langson-pgd-lan", on=date(2024, 2, 5))
        approval.approve(session, letters[CAO_LOC], "vhtt-caoloc-tp", on=date(2024, 2, 5))
    with time_machine.travel(datetime(2024, 2, 5, 10, tzinfo=VN), tick=True):
        assert dispatch(sqlite_url, SmtpConfig.from_url(smtp_url)).count("failed") == 0

    communes = [u for u in h.children(CAO_LOC) if "commune_committee" in u.roles]
    on_time, late = communes[:10], communes[10:15]  # the other 7 communes never report

    def remind(day: int) -> list[str]:
        with time_machine.travel(datetime(2024, 2, day, 7, tzinfo=VN), tick=True):
            return CliRunner().invoke(main, ["remind"]).output.splitlines()

    content = ReportContent(done="Đã tuyên truyền trên loa truyền thanh.", figures={"buổi phát thanh": 4})

    def report(units: list, day: int) -> None:  # type: ignore[type-arg]
        with transaction(sqlite_url) as session:
            for unit in units:
                request = reporting.find_request(session, cascade_id=begun.cascade_id, unit=unit.code)
                reporting.submit(
                    session, request, unit.reporters[0].id, content, "…", at=datetime(2024, 2, day, 3, tzinfo=UTC)
                )

    # The department's letter prints 16/02 (report.due: its recipients' deadline; it used to be the department's
    # own, written 20/02 for this same cycle); Cao Lộc's 26 units owe Cao Lộc 07/02, before Tết.
    assert remind(5)[0] == "Sweep of 05/02/2024: 26 reminder(s) before the deadline, 0 overdue, 0 escalation(s)."
    report(on_time, 6)
    assert remind(9)[0] == "09/02/2024 is not a working day: nobody is reminded."  # Tết
    # First working day after Tết: 16 of Cao Lộc's units overdue; the 16 of the department's 18 recipients that
    # owe a report (report.from: not the newspaper, not the radio) due tomorrow.
    assert remind(15)[0] == "Sweep of 15/02/2024: 16 reminder(s) before the deadline, 16 overdue, 0 escalation(s)."
    report(late, 16)
    out = remind(20)  # the 16 are overdue now; the 11 still silent in Cao Lộc, 4 working days late, escalated
    assert out[0] == "Sweep of 20/02/2024: 0 reminder(s) before the deadline, 16 overdue, 11 escalation(s)."
    assert "Consolidated report" in out[1] and CAO_LOC in "\n".join(out)
    assert remind(20)[0].endswith("0 overdue, 0 escalation(s).")  # never twice

    kept = copies(sink)
    assert len(kept) == len(set(kept))  # no copy twice
    with transaction(sqlite_url) as session:
        report = (
            session.scalars(
                select(LetterRecord).where(LetterRecord.unit_code == CAO_LOC, LetterRecord.kind == "report")
            )
            .one()
            .markdown
        )
    assert "Đã báo cáo đúng hạn: 10/26 đơn vị" in report and "Báo cáo muộn: 5/26 đơn vị" in report
    never = ", ".join(u.name for u in communes[15:])
    assert "Chưa báo cáo: 11/26 đơn vị (" in report and never in report
    assert "- buổi phát thanh: 60" in report
