"""`chidao reports status`: each unit's state, counts per level, the overdue list; as text, JSON and a page."""

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from chidao import reporting
from cli import main
from db.engine import transaction
from tests.steps import send_down


def cycle(url: str, smtp_url: str, directive: Path) -> None:
    """Letters out on 5/2/2024; one commune reports on time, one late, the rest never."""
    send_down(url, smtp_url, directive)
    content = reporting.ReportContent(done="Đã tuyên truyền.")
    with transaction(url) as session:
        for unit, who, day in (("90101", "x90101-vp", 6), ("90102", "x90102-vp", 15)):
            request = reporting.find_request(session, cascade_id=1, unit=unit)
            reporting.submit(session, request, who, content, "…", at=datetime(2024, 2, day, 3, tzinfo=UTC))


def test_status_says_who_reported_who_is_late_and_who_is_overdue(
    chidao_env: str, dated_directive: Path, sink: Path, smtp_url: str, tmp_path: Path
) -> None:
    cycle(chidao_env, smtp_url, dated_directive)
    data = json.loads(CliRunner().invoke(main, ["reports", "status", "1", "--at", "2024-02-20", "--json"]).output)
    states = {u["code"]: u["report"] for u in data["units"]}
    assert states["90101"] == "received" and states["90102"] == "late"
    assert states["901.TT"] == states["901.BD"] == "overdue"
    assert states["90201"] == "not_owed"  # Tây's letter is not signed yet
    assert states["901.P"] == "overdue"  # owed the department by 16/2
    assert [(u["code"], u["days_late"]) for u in data["overdue"]][:2] == [("901.BD", 4), ("901.TT", 4)]
    assert data["levels"][2] == {
        "units": 6,
        "letters_sent": 0,
        "due": 0,
        "on_request": 0,
        "overdue": 2,
        "received": 1,
        "late": 1,
    }

    text = CliRunner().invoke(main, ["reports", "status", "1", "--at", "2024-02-20"]).output
    assert "UBND xã Đông An (90101): đã báo cáo" in text
    assert "Trung tâm Văn hóa, Thể thao và Truyền thông (901.TT): QUÁ HẠN, hạn 2024-02-07, muộn 4 ngày làm việc" in text
    assert "Level 2: 6 unit(s), 0 letter(s) sent, 1 on time, 1 late, 2 overdue, 0 not yet due" in text

    page = tmp_path / "status.html"
    written = CliRunner().invoke(
        main, ["reports", "status", "1", "--at", "2024-02-20", "--format", "html", "--output", str(page)]
    )
    assert written.exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert '<span class="unit overdue">Trung tâm Văn hóa, Thể thao và Truyền thông</span>' in html
    assert '<span class="unit late">UBND thị trấn Đông Hà</span>' in html
