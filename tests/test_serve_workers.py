"""The desk as a production service: `chidao serve --workers N` runs N processes that share the signed-in
sessions (kept in the database), and a report submitted on the desk returns at once while its consolidated
report (BÁO CÁO) is drafted in the background, one consolidation at a time, its failures logged."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from db.engine import transaction
from db.migrate import upgrade
from db.models import LetterRecord, ReportRequest
from tests.steps import LANGSON, PASSWORD, desk_cascade, desk_server, langson_directive
from tests.test_desk import Person, desk_people
from web.background import Consolidation

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CONSOLIDATION = "chidao-consolidation"  # the background thread's name


def _workers(server: int) -> list[int]:
    """The worker processes uvicorn spawned for the server process (not multiprocessing's helpers)."""
    children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@contextmanager
def _served(*options: str) -> Iterator[tuple[str, list[int]]]:
    """`chidao serve` as a command on a free loopback port; yields its address and its worker processes."""
    from mail.sink import free_port

    chidao = shutil.which("chidao") or str(Path(sys.executable).with_name("chidao"))
    port = free_port()
    server = subprocess.Popen([chidao, "serve", "--port", str(port), *options])
    try:
        deadline = time.monotonic() + 60
        while True:  # started: the workers spawned and one answers
            assert server.poll() is None, "chidao serve stopped"
            assert time.monotonic() < deadline, "chidao serve did not start"
            try:
                workers = _workers(server.pid)
                if len(workers) >= int(options[options.index("--workers") + 1]):
                    httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=30)
                    break
            except (httpx.TransportError, FileNotFoundError):
                pass
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", workers
    finally:
        server.terminate()
        assert server.wait(30) == 0


def test_chidao_serve_with_two_workers_serves_a_session_from_either_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    added = CliRunner().invoke(
        main, ["users", "add", "kt", "--auditor", "--name", "Kiểm tra", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert added.exit_code == 0, added.output
    with _served("--workers", "2", "--hierarchy", str(LANGSON / "hierarchy.yaml")) as (base, workers):
        assert len(workers) == 2
        first, second = workers
        # a new connection for every request: whichever process is free accepts it
        person = Person(base)
        person.http = httpx.Client(
            base_url=base, follow_redirects=True, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)
        )
        try:
            os.kill(first, signal.SIGSTOP)  # only the second can answer: it signs the auditor in
            try:
                assert person.sign_in("kt").url.path == "/cascades"
                assert "Các đợt triển khai" in person.get("/cascades").text
            finally:
                os.kill(first, signal.SIGCONT)
            os.kill(second, signal.SIGSTOP)  # only the first can answer: the session is the database's
            try:
                page = person.get("/cascades")
                assert page.url.path == "/cascades" and "Các đợt triển khai" in page.text
            finally:
                os.kill(second, signal.SIGCONT)
        finally:
            person.http.close()


def test_chidao_serve_refuses_a_broken_hierarchy_once_before_starting_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    broken = tmp_path / "hierarchy.yaml"
    broken.write_text("units: [", encoding="utf-8")
    answer = CliRunner().invoke(main, ["serve", "--workers", "2", "--port", "1", "--hierarchy", str(broken)])
    assert answer.exit_code == 2 and "error: " in answer.output and "Traceback" not in answer.output


@pytest.fixture
def desk(database_url: str, sink: Path, smtp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Lạng Sơn cascade with the department's letter signed, the desk (its app at hand) on 06/02/2024."""
    from web.app import create_app

    monkeypatch.setenv("CHIDAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHIDAO_DATABASE_URL", database_url)
    ids = desk_cascade(database_url, smtp_url, langson_directive(tmp_path))
    app = create_app(database_url, LANGSON / "hierarchy.yaml")
    with (
        time_machine.travel(datetime(2024, 2, 6, 9, tzinfo=VN), tick=True) as clock,
        desk_server(database_url, app=app) as base,
        desk_people(base) as arriving,
    ):

        class Desk:
            url, letters, now, consolidation = database_url, ids, clock, app.state.desk.consolidation
            person = staticmethod(arriving)

        yield Desk


def test_a_report_on_the_desk_returns_and_its_districts_bao_cao_is_drafted_after(desk: Any) -> None:
    letter = desk.letters["183.VHTT"]
    desk.person("vhtt-caoloc-tp").sign(letter)
    desk.now.move_to(datetime(2024, 2, 21, 9, tzinfo=VN))  # Cao Lộc's own deadline (20/02) has passed
    with transaction(desk.url) as session:
        request = session.scalars(select(ReportRequest.id).where(ReportRequest.unit_code == "06184")).one()
        cascade = session.get_one(LetterRecord, letter).cascade_id
    clerk = desk.person("vhxh-06184")
    clerk.get(f"/reports/{request}")
    sent = clerk.post(f"/reports/{request}", {"done": "Đã treo băng rôn.", "figures": "Số băng rôn: 12"})
    assert sent.status_code == 200 and "Đã nhận báo cáo" in sent.text
    assert desk.consolidation.wait(120), "the consolidation did not finish"
    assert desk.consolidation.failures == 0
    with transaction(desk.url) as session:
        drafted = session.scalars(
            select(LetterRecord).where(LetterRecord.kind == "report", LetterRecord.unit_code == "183.VHTT")
        ).one()
    page = desk.person("stttt-langson-gd").get(f"/cascades/{cascade}").text
    assert f'<a href="/letters/{drafted.id}">Báo cáo của Phòng Văn hóa và Thông tin huyện Cao Lộc</a>' in page
    assert f'href="/letters/{drafted.id}"' in desk.person("vhtt-caoloc-tp").get("/inbox").text  # to sign


def test_reports_submitted_during_a_consolidation_ask_for_one_more_run_not_one_each(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    consolidation = Consolidation(sqlite_url)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the database is busy: the first run waits for it
    try:
        for _ in range(10):
            consolidation.ask()
        running = [t for t in threading.enumerate() if t.name == CONSOLIDATION]
        assert len(running) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert consolidation.wait(120)
    assert 1 <= consolidation.runs <= 2 and consolidation.failures == 0


def test_a_consolidation_that_fails_is_logged_and_the_next_report_asks_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"  # no tables: consolidating fails
    consolidation = Consolidation(unmigrated)
    with caplog.at_level(logging.ERROR, logger="chidao.desk"):
        consolidation.ask()
        assert consolidation.wait(120)
    assert consolidation.failures == 1
    failed = [r for r in caplog.records if r.name == "chidao.desk" and r.exc_info]
    assert len(failed) == 1 and "consolidating the reports" in failed[0].getMessage()
    upgrade(unmigrated)  # the database mended: the next report's consolidation runs
    consolidation.ask()
    assert consolidation.wait(120) and consolidation.runs == 2 and consolidation.failures == 1
