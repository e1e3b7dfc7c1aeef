"""Steps several tests take, through the same functions the flow and the CLI call."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

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
    """The mini directive with a dated report requirement across Tết 2024: the department's letter gives its
    units 16/02 (report.due, the date it prints), Đông's gives its units 07/02 (two working days less, Tết in
    between), and the department's own report is due 20/02."""
    text = mini_directive.read_text(encoding="utf-8").replace(
        "report:\n  due: on_request", "report:\n  due: 2024-02-16\n  lead_days: 2"
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


LANGSON = DATA.parent.parent / "examples" / "langson"
PASSWORD = "mật khẩu đủ dài 2024"
DESK_PEOPLE = {
    "stttt-langson-gd": "20.STTTT",  # the department: starts and follows cascades
    "vhtt-caoloc-tp": "183.VHTT",  # Cao Lộc's head: approves Cao Lộc's letter
    "vhtt-trangdinh-tp": "180.VHTT",  # Tràng Định's head: another district
    "vhxh-06184": "06184",  # the commune clerk of Đồng Đăng, under Cao Lộc
}
CAO_LOC_DRAFTER = "vhtt-caoloc-cv"  # the drafter (chuyên viên) of Cao Lộc's office, in with_drafters()


def with_drafters(folder: Path) -> Path:
    """The Lạng Sơn hierarchy with a drafter (chuyên viên) who prepares Cao Lộc's letters."""
    text = (LANGSON / "hierarchy.yaml").read_text(encoding="utf-8")
    approvers = "  - {id: vhtt-caoloc-ptp, name: Lý Thị P, position: PHÓ TRƯỞNG PHÒNG}\n"
    assert text.count(approvers) == 1
    text = text.replace(approvers, approvers + f"  drafters:\n  - {{id: {CAO_LOC_DRAFTER}, name: Nông Thị Soạn}}\n")
    path = folder / "hierarchy-drafters.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def langson_directive(folder: Path, extra: str = "", due: date = date(2024, 2, 20)) -> Path:
    """The Lạng Sơn directive with a dated report (due 20/02/2024) and, optionally, text added to its subject."""
    text = (LANGSON / "directive-hsg-2023.yaml").read_text(encoding="utf-8")
    text = text.replace("report:\n  due: on_request", f"report:\n  due: {due.isoformat()}\n  lead_days: 2")
    if extra:
        text = text.replace("\nsubject: ", f"\nsubject: {extra} ", 1)
    path = folder / "directive.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def desk_cascade(url: str, smtp_url: str, directive: Path, hierarchy: Path | None = None) -> dict[str, int]:
    """The Lạng Sơn cascade drafted at every level, the department's letter signed on 5/2/2024 and delivered,
    and the desk's accounts (the drafter's too, if the hierarchy names one); returns letter ids by unit."""
    from chidao.accounts import add_account, people

    upgrade(url)
    d, h = load_inputs(directive, hierarchy or LANGSON / "hierarchy.yaml")
    with transaction(url) as session:
        begun = begin(session, d, h, date(2023, 12, 1), "test")
        parents = [begun.root_letter_id]
        while parents:
            parents = draft_below(session, begun.cascade_id, parents, "test").letter_ids
        ids = {row.unit_code: row.id for row in list_letters(session, cascade_id=begun.cascade_id)}
        approval.approve(session, ids["20.STTTT"], "stttt-langson-gd", on=SIGNED)
        for person in [*DESK_PEOPLE, CAO_LOC_DRAFTER]:
            if person in people(h):
                add_account(session, person, people(h)[person], "person", PASSWORD)
        add_account(session, "kiemtra", "Thanh tra Sở", "auditor", PASSWORD)
    report = dispatch(url, SmtpConfig.from_url(smtp_url))
    assert report.count("sent") > 0 and report.count("failed") == 0
    return ids


@contextmanager
def desk_server(url: str, hierarchy: Path | None = None, app: Any = None) -> Iterator[str]:
    """`chidao serve`'s app (or the app given, to reach its state) under uvicorn on a loopback port, in a thread;
    yields its base URL. As `chidao serve` does, on CHIDAO_DATABASE_URL (set to url meanwhile): the flows the
    desk runs read it."""
    import os
    import threading
    import time

    import uvicorn

    from mail.sink import free_port
    from web.app import create_app

    before = os.environ.get("CHIDAO_DATABASE_URL")
    os.environ["CHIDAO_DATABASE_URL"] = url
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app or create_app(url, hierarchy or LANGSON / "hierarchy.yaml"),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the desk did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        if before is None:
            os.environ.pop("CHIDAO_DATABASE_URL", None)
        else:
            os.environ["CHIDAO_DATABASE_URL"] = before
