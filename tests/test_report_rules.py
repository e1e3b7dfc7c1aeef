"""Who owes a report and by when, as offices run it (issue 16): report.from, the deadline printed in the issuer's
letter, report.due as that date, requests for a district that signs after the reports were asked for, and the
village level reached through its commune's address."""

import unicodedata
from collections import Counter
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from chidao import approval
from chidao.cascade import begin, draft_below, load_inputs
from chidao.dispatch import dispatch
from chidao.reminders import sweep
from chidao.status import cascade_status
from cli import main
from db.cascades import letter_content
from db.engine import transaction
from db.letters import list_letters
from db.migrate import upgrade
from db.models import LetterRecord, RecipientRecord, ReportRequest
from hierarchy import Hierarchy, load_hierarchy
from hierarchy.load import parse_hierarchy
from hierarchy.model import HierarchyFile, Level
from inputs.sources import InputError
from letters.directive import Directive, parse_directive
from letters.plan import Plan, plan_cascade
from mail.sink import messages
from mail.smtp import SmtpConfig
from tests.conftest import DATA, LANGSON
from tests.steps import send_down

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def langson_text(report: str) -> str:
    """The Lạng Sơn example with its `report:` block's first line (`due: on_request`) replaced."""
    text = (LANGSON / "directive-hsg-2023.yaml").read_text(encoding="utf-8")
    assert "report:\n  due: on_request\n" in text
    return text.replace("report:\n  due: on_request\n", f"report:\n  {report}\n")


@pytest.fixture(scope="module")
def langson() -> Hierarchy:
    return load_hierarchy(LANGSON / "hierarchy.yaml")


def langson_plan(langson: Hierarchy, report: str) -> Plan:
    return plan_cascade(parse_directive(langson_text(report), langson), langson, date(2023, 12, 1))


def cao_loc(plan: Plan) -> str:
    return next(d.letter.closing for d in plan.levels[1] if d.letter.unit == "183.VHTT")


# The issuer's own letter states its recipients' deadline; report.due is that date.


def test_the_departments_letter_states_the_deadline_its_recipients_are_given(langson: Hierarchy) -> None:
    plan = langson_plan(langson, "due: 2024-02-16\n  lead_days: 2")
    root = plan.levels[0][0].letter.closing
    # The directive's closing as written, then the deadline in the decree's date words; the newspaper and the
    # radio are told the content but owe no report (the example's report.from leaves them out).
    assert root.startswith("Sở Thông tin và Truyền thông trân trọng đề nghị các cơ quan, đơn vị thực hiện")
    assert root.endswith(
        "xem xét, giải quyết. Đề nghị các doanh nghiệp Bưu chính, Viễn thông; Phòng Văn hóa và Thông tin các huyện, "
        "thành phố báo cáo kết quả thực hiện về Sở trước ngày 16 tháng 02 năm 2024./."
    )
    assert unicodedata.is_normalized("NFC", root)
    # Each level below gets lead_days working days less: Cao Lộc's units owe it 07/02 (Tết from 08/02 to 14/02).
    assert cao_loc(plan).endswith("và báo cáo kết quả về Phòng trước ngày 07 tháng 02 năm 2024./.")


def test_on_request_and_within_days_keep_their_words(langson: Hierarchy) -> None:
    seed = langson_plan(langson, "due: on_request")
    directive = parse_directive(langson_text("due: on_request"), langson)
    assert seed.levels[0][0].letter.closing == directive.closing  # the seed's letter asks for no date
    assert cao_loc(seed).endswith("và báo cáo kết quả về Phòng khi có yêu cầu./.")
    within = langson_plan(langson, "within_days: 10")
    assert within.levels[0][0].letter.closing.endswith(
        "về Sở trong thời hạn 10 ngày làm việc kể từ ngày nhận được văn bản./."
    )


def test_report_due_is_the_date_printed_in_the_issuers_letter(langson: Hierarchy) -> None:
    report = parse_directive(langson_text("due: 2024-02-16\n  lead_days: 2"), langson).report
    assert [report.due_for(depth) for depth in range(2)] == [date(2024, 2, 16), date(2024, 2, 7)]
    assert report.issuer_due() == date(2024, 2, 20)  # the department's own BÁO CÁO: two working days later
    # Refused when the lowest level would have no time left: here Cao Lộc's units, on 08/02 (Tết) already late.
    with pytest.raises(InputError, match="leaves the lowest level a deadline of 07/02/2024, before 08/02/2024"):
        parse_directive(langson_text("due: 2024-02-16\n  lead_days: 2"), langson, today=date(2024, 2, 8))


# report.from: who owes a report.


def test_report_from_names_the_roles_that_owe_a_report_at_every_level() -> None:
    mini = load_hierarchy(DATA / "mini.yaml")
    text = langson_text("due: on_request").replace('issuer: "20.STTTT"', 'issuer: "90.S"')
    named = parse_directive(text, mini).report
    owed = {code for code in mini.graph.nodes if code != "90" and named.owed_by(mini, code)}
    assert owed == {"90.BD", "90.VT", "901.P", "902.P", "901.TT", "901.BD", "90101", "90102", "90201", "90202"}
    # Without `from`: the units each letter's writer directs (link: direct). The press, the enterprises and the
    # communes (a district office only requests their cooperation) are not chased.
    default = parse_directive(
        text.replace("\n  from: [postal, telecom, culture_office, culture_centre, commune_committee]", ""), mini
    )
    assert default.report.owed_from is None
    owed = {code for code in mini.graph.nodes if code != "90" and default.report.owed_by(mini, code)}
    assert owed == {"90.S", "901.P", "902.P", "901.TT"}
    assert not default.report.owed_by(mini, "90")  # the root answers to nobody


def test_report_from_is_recorded_under_its_own_name() -> None:
    mini = load_hierarchy(DATA / "mini.yaml")
    text = langson_text("due: on_request").replace('issuer: "20.STTTT"', 'issuer: "90.S"')
    directive = parse_directive(text, mini)
    recorded = directive.canonical_json()
    assert '"from":["postal","telecom","culture_office","culture_centre","commune_committee"]' in recorded
    assert Directive.model_validate_json(recorded) == directive
    # A directive without `from` is recorded as before: the same digest for the same file.
    bare = parse_directive(
        text.replace("\n  from: [postal, telecom, culture_office, culture_centre, commune_committee]", ""), mini
    )
    assert '"from"' not in bare.canonical_json()


def test_only_the_roles_in_report_from_are_chased(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str
) -> None:
    text = mini_directive.read_text(encoding="utf-8")
    mini_directive.write_text(text.replace("due: on_request", "due: 2024-02-16\n  lead_days: 2"), encoding="utf-8")
    ids = send_down(chidao_env, smtp_url, mini_directive)
    with transaction(chidao_env) as session:
        owed = {r.unit_code for r in session.scalars(select(ReportRequest))}
        status, _ = cascade_status(session, 1, date(2024, 2, 20))
        department = letter_content(session.get_one(LetterRecord, ids["90.S"]))
    assert "90.BAO" not in owed and "90.DAI" not in owed  # told, not asked to report
    states = {u.code: u.report for u in status.units}
    assert states["90.BAO"] == states["90.DAI"] == "not_owed"
    assert states["90.BD"] == states["901.P"] == "overdue"  # owed the department by 16/02
    assert department.closing.endswith("về Sở trước ngày 16 tháng 02 năm 2024./.")
    # Reminders go to those who owe: none to the newspaper or the radio.
    sweep(chidao_env, SmtpConfig.from_url(smtp_url), datetime(2024, 2, 20, 7, tzinfo=VN))
    sent_to = {str(message_from_bytes(m, policy=policy.default)["X-Envelope-To"]) for m in messages(sink)}
    assert "p901@mau.example" in sent_to and "bd@mau.example" in sent_to
    reminded = [m for m in messages(sink) if "quá hạn" in str(message_from_bytes(m, policy=policy.default)["Subject"])]
    assert reminded and not any(
        str(message_from_bytes(m, policy=policy.default)["X-Envelope-To"]) in ("bao@mau.example", "dai@mau.example")
        for m in reminded
    )


# A district that signs after the department asked for the reports.


def test_a_district_signing_after_the_reports_were_asked_for_gives_its_communes_a_deadline(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str
) -> None:
    ids = send_down(chidao_env, smtp_url, mini_directive)  # on request; the department and Đông signed on 05/02
    with transaction(chidao_env) as session:
        tay = session.get_one(LetterRecord, ids["902.P"])
        assert tay.status == "draft" and "khi có yêu cầu./." in tay.markdown
    # 06/02: the department asks for the reports, its own recipients by Friday 23/02.
    with time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True):
        asked = CliRunner().invoke(main, ["reports", "request", "1", "--due", "2024-02-23", "--as", "so-gd"])
    assert asked.exit_code == 0, asked.output
    with transaction(chidao_env) as session:
        tay = session.get_one(LetterRecord, ids["902.P"])
        dues = {r.unit_code: r.due for r in session.scalars(select(ReportRequest))}
    # Tây's draft, not yet signed, now states the deadline its communes are given: 23/02 less two working days.
    assert tay.markdown.count("trước ngày 21 tháng 02 năm 2024./.") == 1 and "khi có yêu cầu" not in tay.markdown
    assert dues["902.P"] == dues["901.P"] == date(2024, 2, 23) and dues["90101"] == date(2024, 2, 21)
    assert "90201" not in dues  # Tây's letter has not gone out

    # 16/02, after Tết: Tây signs, and its letter goes out. Its communes owe it a report by 21/02.
    with time_machine.travel(datetime(2024, 2, 16, 9, tzinfo=VN), tick=True):
        with transaction(chidao_env) as session:
            approval.approve(session, ids["902.P"], "p902-tp", on=date(2024, 2, 16))
        assert dispatch(chidao_env, SmtpConfig.from_url(smtp_url)).count("sent") == 2
    with transaction(chidao_env) as session:
        tay_requests = {
            r.unit_code: r.due
            for r in session.scalars(select(ReportRequest).where(ReportRequest.issuer_code == "902.P"))
        }
    assert tay_requests == {"90201": date(2024, 2, 21), "90202": date(2024, 2, 21)}

    # 19/02: two working days before, Tây's communes are reminded like every other unit.
    with time_machine.travel(datetime(2024, 2, 19, 7, tzinfo=VN), tick=True):
        swept = CliRunner().invoke(main, ["remind"])
    assert swept.exit_code == 0, swept.output
    reminded = Counter(
        str(message_from_bytes(m, policy=policy.default)["X-Envelope-To"])
        for m in messages(sink)
        if str(message_from_bytes(m, policy=policy.default)["Subject"]) == "Nhắc báo cáo: hạn 21/02/2024"
    )
    assert reminded["x90201@mau.example"] == reminded["x90202@mau.example"] == 1

    # 22/02: the department sees them overdue, not "on request".
    with transaction(chidao_env) as session:
        status, _ = cascade_status(session, 1, date(2024, 2, 22))
    states = {u.code: (u.report, u.due) for u in status.units}
    assert states["90201"] == states["90202"] == ("overdue", "2024-02-21")
    assert "on_request" not in {u.report for u in status.units}


# Villages (thôn, tổ dân phố) reached through their commune.


VILLAGES = DATA / "villages.yaml"


def test_a_village_without_an_address_is_reached_at_its_communes() -> None:
    h = load_hierarchy(VILLAGES)
    assert h.unit("95001.02").level == Level.village
    assert h.unit("95001.02").email == h.unit("95001.03").email == "xa95001@mau95.example"
    assert h.unit("95001.02").reached_through_parent and not h.unit("95001.01").reached_through_parent
    assert h.unit("95001.01").email == "napan.95001@mau95.example"  # a village with its own address keeps it
    # The recorded snapshot keeps the file's own fields: no address is written in for a village.
    data = h.to_data()
    village = next(u for u in data["units"] if u["code"] == "95001.02")
    assert "email" not in village and next(u for u in data["units"] if u["code"] == "95001")["email"]
    again = Hierarchy.build(HierarchyFile.model_validate(data))
    assert again.unit("95001.02").email == "xa95001@mau95.example" and again.digest == h.digest


def test_only_a_village_may_go_without_an_address() -> None:
    text = VILLAGES.read_text(encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "UBND xã Hòa An, roles" in s)
    with pytest.raises(InputError) as refused:
        parse_hierarchy(text.replace(" email: xa95001@mau95.example,", ""), "v.yaml")
    assert [str(p) for p in refused.value.problems] == [f"v.yaml:{line}: units[3].email: missing field 'email'"]
    with pytest.raises(InputError, match=r"unit 95001\.01 field 'email': not an e-mail address"):
        parse_hierarchy(text.replace("napan.95001@mau95.example", "napan"), "v.yaml")


@pytest.fixture(scope="module")
def village_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trial PKI for the villages' hierarchy (the session's covers the other test hierarchies)."""
    from signing.pki import make_pki

    return make_pki(load_hierarchy(VILLAGES), tmp_path_factory.mktemp("pki") / "pki", store="pkcs12").keys_file


def test_a_commune_cascades_to_its_villages_and_they_are_chased_at_its_address(
    sqlite_url: str, sink: Path, smtp_url: str, village_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIDAO_KEYS", str(village_keys))
    upgrade(sqlite_url)
    d, h = load_inputs(DATA / "villages-directive.yaml", VILLAGES)
    with transaction(sqlite_url) as session:
        begun = begin(session, d, h, date(2025, 4, 14), "test")
        draft_below(session, begun.cascade_id, [begun.root_letter_id], "test")
        ids = {r.unit_code: r.id for r in list_letters(session, cascade_id=begun.cascade_id)}
        for unit, who in (("95.S", "s95-gd"), ("95001", "x95001-ct"), ("95002", "p95002-ct")):
            approval.approve(session, ids[unit], who, on=date(2025, 4, 21))
        commune = letter_content(session.get_one(LetterRecord, ids["95001"]))
        addresses = dict(
            session.execute(
                select(RecipientRecord.unit_code, RecipientRecord.email).where(
                    RecipientRecord.letter_id == ids["95001"]
                )
            ).all()
        )
    assert [r.label for r in commune.recipients] == ["Các thôn, tổ dân phố"]
    # The villages owe their commune two working days before the communes owe the department (Tuesday 29/04):
    # Saturday 26/04/2025, worked in exchange for Friday 02/05.
    assert commune.closing.endswith("báo cáo kết quả về UBND xã trước ngày 26 tháng 4 năm 2025./.")
    assert addresses == {
        "95001.01": "napan.95001@mau95.example",
        "95001.02": "xa95001@mau95.example",
        "95001.03": "xa95001@mau95.example",
    }
    assert dispatch(sqlite_url, SmtpConfig.from_url(smtp_url)).count("failed") == 0
    delivered = Counter(str(message_from_bytes(m, policy=policy.default)["X-Envelope-To"]) for m in messages(sink))
    # The commune's mailbox: the department's letter, and its own letter once, addressed to its two villages
    # without an address of their own (one message, one copy per mailbox).
    assert delivered["xa95001@mau95.example"] == 2 and delivered["napan.95001@mau95.example"] == 1
    assert delivered["p95002@mau95.example"] == 2
    with transaction(sqlite_url) as session:
        dues = {r.unit_code: r.due for r in session.scalars(select(ReportRequest))}
    assert "95.BAO" not in dues  # the press is not in report.from
    assert dues["95001"] == dues["95002"] == date(2025, 4, 29)
    assert {dues[v] for v in ("95001.01", "95001.02", "95001.03", "95002.01")} == {date(2025, 4, 26)}

    # Thursday 24/04: two working days before Saturday 26/04, the villages are reminded, at the commune's address
    # where they have none.
    report = sweep(sqlite_url, SmtpConfig.from_url(smtp_url), datetime(2025, 4, 24, 0, 30, tzinfo=UTC))
    assert sorted((n.unit, n.to) for n in report.notices if n.kind == "due_soon") == [
        ("95001.01", "napan.95001@mau95.example"),
        ("95001.02", "xa95001@mau95.example"),
        ("95001.03", "xa95001@mau95.example"),
        ("95002.01", "p95002@mau95.example"),
    ]
    assert report.count("due_soon") == 4
