"""SIGKILL the dispatching process at several points; resuming loses nobody and re-sends with the same id."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from chidao import approval
from chidao.cascade import begin, draft_below, load_inputs
from cli.watcher import MARK, marked, running
from db.engine import transaction
from db.letters import list_letters
from db.migrate import upgrade
from db.models import RecipientRecord
from mail.sink import MaildirHandler, copies, free_port, messages, start_sink
from tests.conftest import LANGSON
from tests.steps import SIGNED


class Slow(MaildirHandler):
    """A while per message (a letter's copies arrive together): kills land between letters."""

    def __init__(self, maildir: Path, delay: float = 0.25) -> None:
        super().__init__(maildir)
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


class UntilBothClaim(MaildirHandler):
    """Holds every message until two dispatchers both hold claims in the outbox (60 s at most): the first
    cannot finish the whole outbox before the second has started, however long the second takes to start."""

    def __init__(self, maildir: Path, url: str) -> None:
        super().__init__(maildir)
        self.url, self.both = url, False

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        from sqlalchemy import distinct, func, select

        self.deadline = getattr(self, "deadline", time.monotonic() + 60)
        while not self.both and time.monotonic() < self.deadline:
            with transaction(self.url) as db:
                claimers = db.scalar(select(func.count(distinct(RecipientRecord.claimed_by))))
            self.both = claimers >= 2
            if not self.both:
                await asyncio.sleep(0.1)
        return await super().handle_DATA(server, session, envelope)


def approved_langson(url: str) -> int:
    """The seed cascade with every letter signed: about 250 messages to send."""
    upgrade(url)
    d, h = load_inputs(LANGSON / "directive-hsg-2023.yaml", LANGSON / "hierarchy.yaml")
    with transaction(url) as session:
        begun = begin(session, d, h, d.date or SIGNED, "test")
        draft_below(session, begun.cascade_id, [begun.root_letter_id], "test")
    with transaction(url) as session:
        for row in list_letters(session, cascade_id=begun.cascade_id):
            approval.approve(session, row.id, h.unit(row.unit_code).approvers[0].id, on=SIGNED)
        return int(session.query(RecipientRecord).count())


def test_killed_dispatch_resumes_without_losing_or_changing_a_message(tmp_path: Path, prefect_api_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'chidao.db'}"
    total = approved_langson(url)
    port, maildir = free_port(), tmp_path / "mail"
    env = {
        **os.environ,
        "CHIDAO_DATABASE_URL": url,
        "CHIDAO_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "CHIDAO_DATA_DIR": str(tmp_path),
        "PREFECT_API_URL": prefect_api_url,  # the session's, not a temporary server per process
    }
    command = [sys.executable, "-m", "cli", "dispatch"]
    controller = start_sink(maildir, port, Slow(maildir))
    try:
        for received in (20, 90, 160):  # kill once the sink holds this many messages
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while len(list((maildir / "new").iterdir())) < received and time.monotonic() < deadline:
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait()
        delivered = set(copies(maildir))
        assert 0 < len(delivered) < total, "the kills should land while messages are flowing"
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
    finally:
        controller.stop()

    ids_by_recipient: dict[str, set[str]] = defaultdict(set)
    for raw in messages(maildir):
        msg = message_from_bytes(raw, policy=policy.default)
        ids_by_recipient[str(msg["X-Envelope-To"])].add(str(msg["Message-ID"]))
    with transaction(url) as session:
        rows = session.query(RecipientRecord).all()
        assert {r.status for r in rows} == {"sent"}
        expected: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            expected[r.email].add(str(r.message_id))
    # Every recipient got every letter meant for it; a duplicate, if any, has the same Message-ID.
    assert ids_by_recipient == expected


def test_two_dispatchers_at_once_send_each_message_once(
    tmp_path: Path, database_url: str, prefect_api_url: str
) -> None:
    total = approved_langson(database_url)
    port, maildir = free_port(), tmp_path / "mail"
    env = {
        **os.environ,
        "CHIDAO_DATABASE_URL": database_url,
        "CHIDAO_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "CHIDAO_DATA_DIR": str(tmp_path),
        "PREFECT_API_URL": prefect_api_url,  # the session's, not a temporary server per process
    }
    # batches of 50: the cascade's 256 copies are several batches, as a national outbox is thousands, so that
    # there is something left for the second dispatcher (one claims a batch, and the next ahead, at a time)
    command = [
        sys.executable,
        "-c",
        "import chidao.dispatch as d; d.BATCH = 50; from cli import main; main()",
        "dispatch",
    ]
    controller = start_sink(maildir, port, UntilBothClaim(maildir, database_url))
    try:
        workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [w.communicate(timeout=120)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
    finally:
        controller.stop()
    kept = copies(maildir)
    assert len(kept) == len(set(kept)) == total  # every copy once: none twice, none lost
    assert all(out.startswith("Sent ") and not out.startswith("Sent 0 ") for out in outputs), outputs  # both took part
    with transaction(database_url) as session:
        assert {r.status for r in session.query(RecipientRecord)} == {"sent"}


def test_a_dispatch_killed_in_the_embedded_default_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    """Without a Prefect server of one's own, the command's flow run starts a temporary one as its child; a
    SIGKILL of the command must not leave it running (cli/watcher.py stops it)."""
    url = f"sqlite:///{tmp_path / 'chidao.db'}"
    approved_langson(url)
    port, maildir = free_port(), tmp_path / "mail"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", MARK)}
    env |= {
        "CHIDAO_DATABASE_URL": url,
        "CHIDAO_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "CHIDAO_DATA_DIR": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),  # its own temporary server's database
    }
    controller = start_sink(maildir, port, Slow(maildir))
    try:
        process = subprocess.Popen([sys.executable, "-m", "cli", "dispatch"], env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while not list((maildir / "new").glob("*")):  # sending: its temporary server is up
            assert time.monotonic() < deadline and process.poll() is None, "the dispatch did not start sending"
            time.sleep(0.05)
        servers = [pid for pid in marked(process.pid) if b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert servers, "a temporary Prefect server marked as the command's"
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 20
        while any(running(pid) for pid in servers):
            assert time.monotonic() < deadline, f"Prefect's temporary server {servers} outlived the killed command"
            time.sleep(0.2)
    finally:
        controller.stop()
