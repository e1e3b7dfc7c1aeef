"""Reminders and escalations across Tết 2024, with time travel and a real SMTP sink: each once."""

import threading
from collections import Counter
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from chidao import reporting
from chidao.reminders import sweep
from cli import main
from db.engine import transaction
from db.models import Event
from mail.sink import copies, messages
from mail.smtp import SmtpConfig
from tests.steps import send_down

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def remind_on(day: int) -> str:
    """Run `chidao remind` at 7:00 on that day of February 2024, as the scheduled flow would."""
    with time_machine.travel(datetime(2024, 2, day, 7, 0, tzinfo=VN), tick=True):
        result = CliRunner().invoke(main, ["remind"])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[0]


def notices(maildir: Path) -> Counter[tuple[str, str]]:
    """(recipient, kind of notice) for every reminder message the sink received; none arrived twice."""
    out: Counter[tuple[str, str]] = Counter()
    kept = copies(maildir)
    assert len(kept) == len(set(kept)), "a message arrived twice"
    for raw in messages(maildir):
        msg = message_from_bytes(raw, policy=policy.default)
        subject = str(msg["Subject"])
        kind = (
            "due_soon"
            if subject.startswith("Nhắc")
            else "overdue"
            if subject.startswith("Báo cáo quá hạn")
            else ("escalation" if subject.endswith("quá hạn") else "")
        )
        if kind:
            out[(str(msg["X-Envelope-To"]), kind)] += 1
    return out


def test_a_cycle_across_tet_reminds_and_escalates_on_working_days_once_each(
    chidao_env: str,
    dated_directive: Path,
    sink: Path,
    smtp_url: str,
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)  # letters out on 5/2; Đông's units owe Đông by 7/2
    assert remind_on(5) == "Sweep of 05/02/2024: 4 reminder(s) before the deadline, 0 overdue, 0 escalation(s)."
    with transaction(chidao_env) as session:  # one commune reports in time
        request = reporting.find_request(session, cascade_id=1, unit="90101")
        content = reporting.ReportContent(done="Đã tuyên truyền.")
        reporting.submit(session, request, "x90101-vp", content, "…", at=datetime(2024, 2, 6, 2, tzinfo=UTC))
    assert remind_on(6) == "Sweep of 06/02/2024: 0 reminder(s) before the deadline, 0 overdue, 0 escalation(s)."
    assert remind_on(8) == "08/02/2024 is not a working day: nobody is reminded."  # 29 Tết
    assert remind_on(12) == "12/02/2024 is not a working day: nobody is reminded."  # Tết
    # 15/2, first working day after Tết: Đông's three silent units are overdue; the department's four that owe a
    # report are due (the press and the radio, not in report.from, are not chased).
    assert remind_on(15) == "Sweep of 15/02/2024: 4 reminder(s) before the deadline, 3 overdue, 0 escalation(s)."
    with transaction(chidao_env) as session:  # a late report stops the chasing
        request = reporting.find_request(session, cascade_id=1, unit="90102")
        reporting.submit(session, request, "x90102-vp", content, "…", at=datetime(2024, 2, 15, 3, tzinfo=UTC))
        assert request.status == "late"
    # 20/2: four working days late, the two still silent are escalated to Đông's head.
    assert remind_on(20) == "Sweep of 20/02/2024: 0 reminder(s) before the deadline, 4 overdue, 2 escalation(s)."
    assert remind_on(20).endswith("0 overdue, 0 escalation(s).")  # the same sweep again sends nothing

    got = notices(sink)
    assert got[("x90101@mau.example", "due_soon")] == 1 and ("x90101@mau.example", "overdue") not in got
    assert got[("x90102@mau.example", "overdue")] == 1
    assert got[("p901@mau.example", "escalation")] == 2 and got[("p901@mau.example", "due_soon")] == 1
    with transaction(chidao_env) as session:
        kinds = Counter(
            e.kind for e in session.scalars(select(Event)) if e.kind.endswith(".sent") and "message" not in e.kind
        )
    assert kinds == {"reminder.sent": 4 + 4 + 3 + 4, "escalation.sent": 2}
    assert not any(to in ("bao@mau.example", "dai@mau.example") for to, _ in got)


def test_two_sweeps_at_once_send_each_notice_once(
    chidao_env: str,
    dated_directive: Path,
    sink: Path,
    smtp_url: str,
) -> None:
    send_down(chidao_env, smtp_url, dated_directive)
    at = datetime(2024, 2, 15, 7, tzinfo=VN)
    barrier = threading.Barrier(2)
    reports = []

    def run() -> None:
        barrier.wait()
        reports.append(sweep(chidao_env, SmtpConfig.from_url(smtp_url), at))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = sum(len(r.notices) for r in reports)
    assert sent == 4 + 4  # the department's four due soon, four of Đông's units overdue
    assert sum(notices(sink).values()) == 8


def test_a_notice_left_sending_by_a_crash_goes_out_after_its_lease(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str
) -> None:
    from datetime import timedelta

    from db.models import Reminder, ReportRequest

    send_down(chidao_env, smtp_url, dated_directive)
    at = datetime(2024, 2, 5, 7, tzinfo=VN)
    with transaction(chidao_env) as session:  # reserved by a sweep that died before sending
        request = session.scalars(select(ReportRequest).where(ReportRequest.unit_code == "90101")).one()
        session.add(
            Reminder(
                request_id=request.id,
                kind="due_soon",
                to_email="x90101@mau.example",
                created_at=at - timedelta(hours=1),
            )
        )
    report = sweep(chidao_env, SmtpConfig.from_url(smtp_url), at)
    assert ("90101", "sent") in {(n.unit, n.status) for n in report.notices}
    assert notices(sink)[("x90101@mau.example", "due_soon")] == 1
    with transaction(chidao_env) as session:
        assert session.scalars(select(Reminder.status).where(Reminder.request_id == request.id)).all() == ["sent"]


def test_reports_asked_for_later_cascade_their_deadlines_down(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str
) -> None:
    from db.models import ReportRequest

    send_down(chidao_env, smtp_url, mini_directive)  # the directive says "on request": no deadlines yet
    with transaction(chidao_env) as session:
        assert {r.due for r in session.scalars(select(ReportRequest))} == {None}
    # --due is the deadline of the department's own recipients (it used to be the department's own: 20/02 then).
    with time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True):
        refused = CliRunner().invoke(main, ["reports", "request", "1", "--due", "2024-02-16", "--as", "p901-tp"])
        assert refused.exit_code == 1 and "refused: 'p901-tp' may not ask for the reports of" in refused.stderr
        asked = CliRunner().invoke(main, ["reports", "request", "1", "--due", "2024-02-16", "--as", "so-gd"])
    assert asked.output.strip() == "Reports asked for by 16/02/2024: 8 unit(s) given their deadline, 8 notified."
    with transaction(chidao_env) as session:
        dues = {r.unit_code: r.due for r in session.scalars(select(ReportRequest))}
    assert dues["901.P"] == date(2024, 2, 16) and dues["90101"] == date(2024, 2, 7)  # level by level, across Tết
    got = notices(sink)
    assert sum(got.values()) == 0  # demands are their own kind of notice, counted below
    demands = [
        m for m in messages(sink) if "Yêu cầu báo cáo" in str(message_from_bytes(m, policy=policy.default)["Subject"])
    ]
    assert len(demands) == 8
    assert remind_on(15).startswith("Sweep of 15/02/2024: 4 reminder(s) before the deadline, 4 overdue")
