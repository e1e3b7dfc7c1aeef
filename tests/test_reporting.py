"""Report requests opened on delivery, submissions, late marks, corrections, and refusals."""

from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from chidao import reporting
from cli import main
from db.engine import transaction
from db.models import Event, Report, ReportRequest
from tests.steps import send_down

REPORT = "done: Đã tuyên truyền trên loa truyền thanh xã.\nfigures: {tin bài: 3, buổi phát thanh: 12}\n"


def test_each_recipient_owes_a_report_by_its_levels_deadline(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    ids = send_down(chidao_env, smtp_url, dated_directive)
    with transaction(chidao_env) as session:
        requests = {r.unit_code: r for r in session.scalars(select(ReportRequest))}
    # The example's report.from names every role but the press and the radio: they are told, not chased.
    assert set(requests) == {
        "90.BD",
        "90.VT",
        "901.P",
        "902.P",
        "901.TT",
        "901.BD",
        "90101",
        "90102",
    }
    # The department's letter gives its units 16/2; Đông's units owe Đông 7/2 (Tết in between).
    assert requests["901.P"].due == date(2024, 2, 16) and requests["901.P"].issuer_code == "90.S"
    assert requests["90101"].due == date(2024, 2, 7) and requests["90101"].letter_id == ids["901.P"]


def test_a_report_on_time_a_late_one_and_a_correction(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)
    content = reporting.ReportContent(done="Đã tuyên truyền.", figures={"tin bài": 3})
    with transaction(chidao_env) as session:
        on_time = reporting.find_request(session, cascade_id=1, unit="90101")
        late = reporting.find_request(session, cascade_id=1, unit="90102")
        reporting.submit(session, on_time, "x90101-vp", content, "…", at=datetime(2024, 2, 6, 9, tzinfo=UTC))
        reporting.submit(session, late, "x90102-vp", content, "…", at=datetime(2024, 2, 15, 9, tzinfo=UTC))
        fixed = content.model_copy(update={"figures": {"tin bài": 4}})
        correction = reporting.submit(session, on_time, "x90101-vp", fixed, "…", at=datetime(2024, 2, 16, tzinfo=UTC))
        assert (on_time.status, late.status, correction.version, correction.late) == ("received", "late", 2, True)
        versions = session.scalars(
            select(Report.content).where(Report.request_id == on_time.id).order_by(Report.version)
        )
        assert ['"tin bài":3.0' in v for v in versions] == [True, False]
        assert reporting.latest(session, on_time.id) == fixed


def test_submitting_through_the_cli_and_the_refusals(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str, tmp_path: Path
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)
    good = tmp_path / "report.yaml"
    good.write_text(REPORT, encoding="utf-8")
    ok = CliRunner().invoke(
        main, ["reports", "submit", str(good), "--as", "x90101-vp", "--cascade", "1", "--unit", "90101"]
    )
    assert ok.exit_code == 0, ok.output
    assert "Report of 90101 received" in ok.output
    other = CliRunner().invoke(
        main, ["reports", "submit", str(good), "--as", "x90201-vp", "--cascade", "1", "--unit", "90101"]
    )
    assert other.exit_code == 1 and "refused: 'x90201-vp' may not report for 90101" in other.stderr
    unknown = CliRunner().invoke(main, ["reports", "submit", str(good), "--as", "x90101-vp", "--request", "999"])
    assert unknown.exit_code == 1 and "no report request with id 999" in unknown.stderr
    unreached = CliRunner().invoke(
        main, ["reports", "submit", str(good), "--as", "x90201-vp", "--cascade", "1", "--unit", "90201"]
    )
    assert unreached.exit_code == 1 and "unit 90201 owes no report in cascade 1" in unreached.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("done: Đã làm\nfigures: {tin bài: nhiều}\n", encoding="utf-8")
    malformed = CliRunner().invoke(
        main, ["reports", "submit", str(bad), "--as", "x90101-vp", "--cascade", "1", "--unit", "90101"]
    )
    assert malformed.exit_code == 2 and malformed.stderr.startswith(f"error: {bad}:2: figures.tin bài:")
    with transaction(chidao_env) as session:
        assert len(session.scalars(select(Report)).all()) == 1  # only the good one
        refused = session.scalars(select(Event).where(Event.kind == "attempt.refused")).all()
        assert [e.actor for e in refused] == ["x90201-vp"]


def test_a_markdown_report_reads_its_sections(tmp_path: Path) -> None:
    from reports.content import load_report

    path = tmp_path / "bao-cao.md"
    path.write_text(
        "## Kết quả thực hiện\nĐã tuyên truyền 12 buổi.\n\n## Số liệu\n- tin bài: 3\n- lượt tiếp cận: 1.200\n\n"
        "## Khó khăn, vướng mắc\n- Loa hỏng ở thôn Nà Pàn\n\n## Đề xuất, kiến nghị\n- Cấp kinh phí sửa loa\n",
        encoding="utf-8",
    )
    content, _ = load_report(path)
    assert content.figures == {"tin bài": 3, "lượt tiếp cận": 1200}
    assert content.difficulties == ("Loa hỏng ở thôn Nà Pàn",) and content.proposals == ("Cấp kinh phí sửa loa",)
