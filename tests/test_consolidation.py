"""Consolidated reports (BÁO CÁO) up the levels: who reported, on time or late, who did not; figures summed."""

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from alembic import command
from click.testing import CliRunner
from sqlalchemy import select

from chidao import approval, reporting
from chidao.consolidation import consolidate, consolidate_all
from chidao.dispatch import dispatch
from cli import main
from db.cascades import letter_content
from db.engine import transaction
from db.migrate import alembic_config, upgrade
from db.models import Event, LetterRecord, ReportRequest
from mail.smtp import SmtpConfig
from reports.content import ReportContent
from tests.steps import send_down

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def report_of(url: str, unit: str) -> LetterRecord:
    with transaction(url) as session:
        return session.scalars(
            select(LetterRecord).where(LetterRecord.unit_code == unit, LetterRecord.kind == "report")
        ).one()


def sign_and_send(url: str, smtp_url: str, record_id: int, who: str, day: int) -> None:
    with time_machine.travel(datetime(2024, 2, day, 9, tzinfo=VN), tick=True), transaction(url) as session:
        approval.approve(session, record_id, who, on=date(2024, 2, day))
    with time_machine.travel(datetime(2024, 2, day, 9, 30, tzinfo=VN), tick=True):
        assert dispatch(url, SmtpConfig.from_url(smtp_url), [record_id]).count("sent") == 1


def test_reports_consolidate_level_by_level_up_to_the_committee(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)  # 5/2: the department's and Đông's letters out
    with transaction(chidao_env) as session:
        for unit, day, figures, difficulty in (("90101", 6, 3, "Thiếu loa"), ("90102", 15, 2, None)):
            request = reporting.find_request(session, cascade_id=1, unit=unit)
            content = ReportContent(
                done=f"{unit} đã tuyên truyền.",
                figures={"tin bài": figures},
                difficulties=(difficulty,) if difficulty else (),
            )
            reporting.submit(session, request, f"x{unit}-vp", content, "…", at=datetime(2024, 2, day, 3, tzinfo=UTC))

    drafted = CliRunner().invoke(main, ["reports", "consolidate", "1", "--at", "2024-02-16"])
    assert drafted.output.splitlines() == ["Consolidated report 4 of 901.P drafted; it waits for approval."]
    district = report_of(chidao_env, "901.P")
    text = district.markdown
    assert "**BÁO CÁO**" in text and "Kính gửi: Sở Văn hóa và Thông tin." in text
    assert "Đã báo cáo đúng hạn: 1/4 đơn vị (UBND xã Đông An (06/02/2024))." in text
    assert "Báo cáo muộn: 1/4 đơn vị (UBND thị trấn Đông Hà (15/02/2024))." in text
    assert "Chưa báo cáo: 2/4 đơn vị (Bưu điện huyện Đông, Trung tâm Văn hóa, Thể thao và Truyền thông)." in text
    assert "- tin bài: 5" in text and "- UBND xã Đông An: Thiếu loa" in text

    sign_and_send(chidao_env, smtp_url, district.id, "p901-tp", 16)
    district = report_of(chidao_env, "901.P")
    assert letter_content(district).reference == "02/BC-VHTT"  # the office's register: 01 was its letter
    with transaction(chidao_env) as session:
        own = session.scalars(select(ReportRequest).where(ReportRequest.unit_code == "901.P")).one()
        assert own.status == "received"  # the BÁO CÁO, once the department has it, is Đông's report

    # The department's own deadline: two working days after its units' (16/2).
    assert CliRunner().invoke(main, ["reports", "consolidate", "1", "--at", "2024-02-19"]).output == ""
    CliRunner().invoke(main, ["reports", "consolidate", "1", "--at", "2024-02-20"])
    department = report_of(chidao_env, "90.S").markdown
    assert "Kính gửi: Ủy ban nhân dân tỉnh Mẫu." in department
    # The press and the radio owe no report (report.from): they are not listed as missing.
    assert "Đã báo cáo đúng hạn: 1/4 đơn vị (Phòng Văn hóa và Thông tin (16/02/2024))." in department
    assert "Chưa báo cáo: 3/4 đơn vị (Bưu điện tỉnh Mẫu, Viễn thông Mẫu, Phòng Văn hóa và Thông tin)." in department
    assert "Báo Mẫu" not in department and "Đài Phát thanh" not in department
    assert "Thực hiện Kế hoạch số 220/KH-UBND ngày 20/11/2023 của UBND tỉnh" in department
    assert "- tin bài: 5" in department  # Đông's figures carried up

    sign_and_send(chidao_env, smtp_url, report_of(chidao_env, "90.S").id, "so-gd", 20)
    with transaction(chidao_env) as session:
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
    assert kinds[-1] == "cascade.reported"
    again = CliRunner().invoke(main, ["reports", "consolidate", "1", "--at", "2024-02-21"])
    assert again.output == ""  # nothing drafted twice


def test_a_report_arriving_after_the_draft_is_taken_in_when_it_is_regenerated(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)
    CliRunner().invoke(main, ["reports", "consolidate", "1", "--at", "2024-02-16"])
    draft = report_of(chidao_env, "901.P")
    assert "Chưa báo cáo: 4/4 đơn vị" in draft.markdown
    with transaction(chidao_env) as session:
        request = reporting.find_request(session, cascade_id=1, unit="90101")
        reporting.submit(
            session, request, "x90101-vp", ReportContent(done="Đã làm."), "…", at=datetime(2024, 2, 16, 8, tzinfo=UTC)
        )
    with time_machine.travel(datetime(2024, 2, 16, 10, tzinfo=VN), tick=True):
        result = CliRunner().invoke(main, ["letters", "regenerate", str(draft.id), "--as", "p901-tp"])
    assert result.exit_code == 0, result.output
    fresh = report_of(chidao_env, "901.P").markdown
    assert "Báo cáo muộn: 1/4 đơn vị (UBND xã Đông An (16/02/2024))." in fresh and "Chưa báo cáo: 3/4 đơn vị" in fresh


def report_in(url: str, units: list[str], day: date) -> None:
    """Each unit's report on its request, taken on `day` (units without a clerk in the test hierarchy too)."""
    content = ReportContent(done="Đã triển khai.", figures={"tin bài": 1})
    for unit in units:
        with transaction(url) as session:
            request = reporting.find_request(session, cascade_id=1, unit=unit)
            at = datetime(day.year, day.month, day.day, 9, tzinfo=VN)
            reporting.record_report(session, request, f"clerk-{unit}", content, "…", at=at)


def drafted_by(url: str, day: date) -> list[str]:
    with transaction(url) as session:
        return [letter.unit_code for letter in consolidate(session, 1, day)]


DONG = ["90101", "90102", "901.TT", "901.BD"]  # the units that owe Đông (901.P) a report


def test_the_last_report_owed_makes_the_bao_cao_ready_before_any_deadline(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)
    report_in(chidao_env, DONG[:3], date(2024, 2, 6))
    assert drafted_by(chidao_env, date(2024, 2, 6)) == []  # one still owed, Đông's deadline (16/2) not come
    report_in(chidao_env, DONG[3:], date(2024, 2, 6))
    assert drafted_by(chidao_env, date(2024, 2, 6)) == ["901.P"]
    assert "Đã báo cáo đúng hạn: 4/4 đơn vị" in report_of(chidao_env, "901.P").markdown
    assert drafted_by(chidao_env, date(2024, 2, 6)) == []  # drafted once
    with transaction(chidao_env) as session:
        assert consolidate_all(session, date(2024, 2, 6)) == []


def test_two_last_reports_taken_at_once_both_count(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    """The second of the last two reports is taken while the first one's transaction is still open: whichever
    commits second sees the letter's set complete."""
    send_down(chidao_env, smtp_url, dated_directive)
    report_in(chidao_env, DONG[:2], date(2024, 2, 6))
    first_taken, second_started = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    content = ReportContent(done="Đã triển khai.")

    def first() -> None:
        try:
            with transaction(chidao_env) as session:
                request = reporting.find_request(session, cascade_id=1, unit=DONG[2])
                reporting.record_report(session, request, "clerk", content, "…", at=datetime(2024, 2, 6, tzinfo=UTC))
                first_taken.set()
                second_started.wait(timeout=30)
                time.sleep(0.5)  # the second is now waiting for this one, or (were nothing locked) past its check
        except BaseException as exc:  # told by the assertion below
            failures.append(exc)

    def second() -> None:
        try:
            first_taken.wait(timeout=30)
            second_started.set()
            report_in(chidao_env, DONG[3:], date(2024, 2, 6))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert drafted_by(chidao_env, date(2024, 2, 6)) == ["901.P"]


def test_a_bao_cao_arriving_above_can_complete_the_set_its_issuer_is_owed(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    """The department is owed reports by the post office, Viettel and both districts' offices: Đông's is its
    BÁO CÁO, which completes the set on the day it arrives, days before the department's own deadline (20/2)."""
    send_down(chidao_env, smtp_url, dated_directive)
    report_in(chidao_env, ["90.BD", "90.VT", "902.P", *DONG], date(2024, 2, 6))
    assert drafted_by(chidao_env, date(2024, 2, 6)) == ["901.P"]
    sign_and_send(chidao_env, smtp_url, report_of(chidao_env, "901.P").id, "p901-tp", 7)
    assert drafted_by(chidao_env, date(2024, 2, 7)) == ["90.S"]
    assert "Đã báo cáo đúng hạn: 4/4 đơn vị" in report_of(chidao_env, "90.S").markdown


def test_a_database_upgraded_in_the_middle_of_a_cascade_consolidates_what_is_complete(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    """A database from before the pending rows (revision 0011): the upgrade finds the letters still to
    consolidate, and which of them have all their reports."""
    send_down(chidao_env, smtp_url, dated_directive)
    report_in(chidao_env, DONG, date(2024, 2, 6))
    command.downgrade(alembic_config(chidao_env), "0011")
    upgrade(chidao_env)
    assert drafted_by(chidao_env, date(2024, 2, 6)) == ["901.P"]  # the department's units have not all reported
    assert drafted_by(chidao_env, date(2024, 2, 20)) == ["90.S"]  # its own deadline
