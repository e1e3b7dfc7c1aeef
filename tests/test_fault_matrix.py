"""A fault matrix for e-mail dispatch: a real, misbehaving SMTP server on loopback (aiosmtpd with handlers that
refuse, stall, drop the connection), on SQLite and PostgreSQL, the department's signed letter to its six
recipients. Every case ends the same way: nobody lost (each recipient has the message in the Maildir, or is
listed failed with the reason), a duplicate carries the first copy's Message-ID, no row left 'sending', and the
record verifies (replay --verify). The module prints the matrix at its end (and writes it to
CHIDAO_SCREENSHOTS, else pytest's base temporary directory, as fault-matrix.txt)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select, update

import mail.smtp
from chidao import approval
from chidao.approval import OUT
from chidao.audit import verify
from chidao.dispatch import DispatchReport, dispatch
from chidao.outbox import outbox
from db.base import utcnow
from db.engine import transaction
from db.models import LetterRecord, RecipientRecord
from mail.sink import MaildirHandler, messages, start_sink
from mail.smtp import SmtpConfig
from tests.steps import SIGNED, draft_cascade
from tests.test_dispatch import Flaky, Refusing, _fast_retries

SENDER_INIT = mail.smtp.Sender.__init__  # the real one, before any test wraps it
RECIPIENTS = 6  # the department's letter: the paper, the radio, the post, the telecom, the two district offices


# --- the matrix ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    fault: str
    db: str
    recipients: int
    sent: int
    failed: int
    pending: int  # copies the faulty run(s) left pending or 'sending', taken up by a later dispatch
    duplicates: int  # copies in the Maildir beyond the first, per recipient
    lost: int


COLUMNS = ("fault", "db", "recipients", "sent", "failed", "pending", "duplicates", "lost")


def render(rows: list[Row]) -> str:
    cells = [COLUMNS] + [tuple(str(getattr(r, c)) for c in COLUMNS) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths, strict=True)))
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    note = "pending: left pending/sending by the faulty run(s), delivered or failed by a later dispatch"
    return "\n".join(["Dispatch fault matrix (6 recipients per case)", *lines, note])


@pytest.fixture(scope="module")
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Row]]:
    rows: list[Row] = []
    yield rows
    if not rows:
        return
    table = render(sorted(rows, key=lambda r: (r.db, ORDER.get(r.fault.split(":")[0], 99), r.fault)))
    folder = Path(os.environ.get("CHIDAO_SCREENSHOTS") or tmp_path_factory.getbasetemp())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fault-matrix.txt").write_text(table + "\n", encoding="utf-8")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.write_line("")
            for line in table.splitlines():
                reporter.write_line(line)
            reporter.write_line(f"(written to {folder / 'fault-matrix.txt'})")


ORDER = {str(n): n for n in range(1, 10)}


# --- a case: the department's letter signed, a server on a loopback port --------------------------------------


@dataclass
class Case:
    url: str
    db: str
    ids: dict[str, int]
    cascade_id: int
    maildir: Path
    config: SmtpConfig


@pytest.fixture
def case(
    request: pytest.FixtureRequest,
    chidao_env: str,
    mini_directive: Path,
    maildir: Path,
    smtp_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Case:
    monkeypatch.setattr(mail.smtp.Sender, "__init__", _fast_retries(SENDER_INIT, attempts=2))
    ids = draft_cascade(chidao_env, mini_directive)
    with transaction(chidao_env) as session:
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)
        cascade_id = session.get_one(LetterRecord, ids["90.S"]).cascade_id
    db = request.node.callspec.params["database_url"]
    return Case(chidao_env, db, ids, cascade_id, maildir, SmtpConfig.from_url(smtp_url))


@contextmanager
def serving(case: Case, handler: Any | None = None) -> Iterator[Any]:
    controller = start_sink(case.maildir, case.config.port, handler)
    try:
        yield controller
    finally:
        controller.stop()


def rows_of(case: Case) -> list[RecipientRecord]:
    """The outbox rows of the cascade's signed letters (detached copies)."""
    with transaction(case.url) as session:
        rows = session.scalars(
            select(RecipientRecord)
            .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
            .where(LetterRecord.cascade_id == case.cascade_id, LetterRecord.status.in_(OUT))
            .order_by(RecipientRecord.letter_id, RecipientRecord.position)
        ).all()
        session.expunge_all()
        return list(rows)


def statuses(case: Case) -> Counter[str]:
    return Counter(r.status for r in rows_of(case))


def held_over(case: Case) -> int:
    """Copies the faulty run left to a later one (pending or 'sending'); none may be left 'sending' by a run that
    returned."""
    counts = statuses(case)
    return counts["pending"] + counts["sending"]


def copies(maildir: Path) -> dict[str, list[str]]:
    """The Message-IDs the server kept, per envelope recipient, in the order kept."""
    out: dict[str, list[str]] = defaultdict(list)
    if not (maildir / "new").exists():
        return out
    for raw in messages(maildir):
        msg = message_from_bytes(raw, policy=policy.default)
        out[str(msg["X-Envelope-To"])].append(str(msg["Message-ID"]))
    return out


def settle(case: Case, matrix: list[Row], fault: str, pending: int, expect_failed: dict[str, str] | None = None) -> Row:
    """The end of every case: the matrix row, then 0 lost, same Message-ID for duplicates, every failure listed
    with its reason, no row 'sending', and the record verifies."""
    rows = rows_of(case)
    kept = copies(case.maildir)
    listed = {(w.letter_id, w.unit): w.detail for w in outbox(case.url, ("failed",))}
    with transaction(case.url) as session:
        verification = verify(session, case.cascade_id)
    by_email = {r.email: r for r in rows}
    assert len(by_email) == len(rows), "each recipient has its own address (copies are told apart by it)"
    lost = [
        r
        for r in rows
        if not (
            (r.status == "sent" and kept.get(r.email))
            or (r.status == "failed" and listed.get((r.letter_id, r.unit_code)))
        )
    ]
    row = Row(
        fault,
        case.db,
        len(rows),
        sum(r.status == "sent" for r in rows),
        sum(r.status == "failed" for r in rows),
        pending,
        sum(len(ids) - 1 for ids in kept.values()),
        len(lost),
    )
    matrix.append(row)

    assert len(rows) == RECIPIENTS
    assert not [r.unit_code for r in rows if r.status == "sending"], "a row left 'sending'"
    assert not [(r.unit_code, r.email, r.status, r.last_error) for r in lost], "recipients lost"
    assert set(kept) <= set(by_email), f"messages kept for no recipient: {set(kept) - set(by_email)}"
    for email, ids in kept.items():
        assert set(ids) == {by_email[email].message_id}, f"{email}: copies with other Message-IDs: {ids}"
        assert by_email[email].status == "sent", f"{email} has the message but its row says {by_email[email].status}"
    failed_rows = {(r.letter_id, r.unit_code) for r in rows if r.status == "failed"}
    assert set(listed) == failed_rows, "every failure listed by the outbox, and only failures"
    assert all(listed.values()), f"a failure without its reason: {listed}"
    if expect_failed is not None:
        got = {unit: detail for (_, unit), detail in listed.items()}
        assert set(got) == set(expect_failed), got
        for unit, text in expect_failed.items():
            assert text in got[unit], (unit, got[unit])
    assert verification.holds, [f"{p}" for p in verification.problems]
    return row


def no_sending(case: Case, report: DispatchReport) -> None:
    """A dispatch that returned leaves no row 'sending', and reported each row it touched."""
    assert statuses(case)["sending"] == 0
    assert len(report.deliveries) == len({(d.letter_id, d.unit) for d in report.deliveries})


# --- 1. connection refused, then the server comes up ----------------------------------------------------------


def test_1_connection_refused_then_the_server_comes_up(case: Case, matrix: list[Row]) -> None:
    first = dispatch(case.url, case.config)  # nothing listens on the port
    no_sending(case, first)
    assert first.count("pending") == RECIPIENTS and first.count("sent") == first.count("failed") == 0
    assert first.gave_up and first.retry_at is not None and first.retry_at > utcnow()
    rows = rows_of(case)
    assert {r.status for r in rows} == {"pending"}
    assert all(r.retry_at is not None and r.retry_at > utcnow() and r.last_error for r in rows)
    pending = held_over(case)
    with serving(case):
        early = dispatch(case.url, case.config, waiting=False)  # what is due only: the deferred copies wait
        assert early.deliveries == [] and copies(case.maildir) == {}
        later = dispatch(case.url, case.config)  # explicit: waiting copies too
        no_sending(case, later)
    assert later.count("sent") == RECIPIENTS
    settle(case, matrix, "1: connection refused, server up later", pending, {})


# --- 2. 421 / 451 on some RCPTs -------------------------------------------------------------------------------


class Busy(Refusing):
    """Answers RCPT for some addresses with the given transient replies, one per try, then accepts."""

    def __init__(self, maildir: Path, replies: dict[str, list[str]]) -> None:
        super().__init__(maildir, set(), {})
        self.replies = {address: list(queue) for address, queue in replies.items()}

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        queue = self.replies.get(address)
        if queue:
            return queue.pop(0)
        return await super().handle_RCPT(server, session, envelope, address, options)


SHUTTING, LATER = "421 4.3.2 Service shutting down", "451 4.3.0 Try again later"


def test_2_transient_replies_on_some_recipients(case: Case, matrix: list[Row]) -> None:
    # One message to the six, in the letter's order (bao, dai, bd, vt, ...). A 421 ends the connection: the whole
    # transaction is tried again, and nobody got a copy yet. A 451 holds back that recipient alone.
    handler = Busy(
        case.maildir,
        {
            "dai@mau.example": [SHUTTING],  # first try: nothing is sent; the second try goes to all six
            "bd@mau.example": [LATER],  # refused at the second try: deferred, then taken by the next run
            "vt@mau.example": [LATER, LATER],  # refused at the second try and the next run's first
        },
    )
    with serving(case, handler):
        first = dispatch(case.url, case.config)
        no_sending(case, first)
        assert first.count("sent") == RECIPIENTS - 2 and first.count("failed") == 0
        deferred = {d.unit: d.detail for d in first.deliveries if d.status == "pending"}
        assert set(deferred) == {"90.BD", "90.VT"} and all("451" in detail for detail in deferred.values())
        pending = held_over(case)
        later = dispatch(case.url, case.config)
        no_sending(case, later)
        assert sorted((d.unit, d.status) for d in later.deliveries) == [("90.BD", "sent"), ("90.VT", "sent")]
    assert all(not queue for queue in handler.replies.values())
    assert all(len(ids) == 1 for ids in copies(case.maildir).values()), "a refused transaction delivered nothing"
    settle(case, matrix, "2: 421/451 on some RCPTs", pending, {})


# --- 3. 550 for one address -----------------------------------------------------------------------------------


def test_3_a_550_fails_that_recipient_only(case: Case, matrix: list[Row]) -> None:
    with serving(case, Refusing(case.maildir, {"bao@mau.example"}, {})):
        report = dispatch(case.url, case.config)
        no_sending(case, report)
    assert report.count("sent") == RECIPIENTS - 1 and report.count("pending") == 0
    assert [(d.unit, d.status, d.detail) for d in report.deliveries if d.status != "sent"] == [
        ("90.BAO", "failed", "550 5.1.1 Mailbox unavailable")
    ]
    settle(case, matrix, "3: 550 for one address", 0, {"90.BAO": "550 5.1.1 Mailbox unavailable"})


# --- 4. unsendable addresses injected at send time ------------------------------------------------------------


BAD = {"90.BD": "ubnd 06184 @", "90.VT": "văn@mau.example"}  # a broken address; SMTPUTF8, which the sink lacks


def inject(case: Case, addresses: dict[str, str]) -> None:
    """Edit the outbox by hand after the signature: these recipients' addresses are now the given ones."""
    with transaction(case.url) as session:
        for unit, email in addresses.items():
            session.execute(
                update(RecipientRecord)
                .where(RecipientRecord.letter_id == case.ids["90.S"], RecipientRecord.unit_code == unit)
                .values(email=email)
            )


def test_4_unsendable_addresses_fail_with_a_reason(case: Case, matrix: list[Row]) -> None:
    from aiosmtpd.controller import Controller

    inject(case, BAD)
    plain = Controller(  # a server that does not offer SMTPUTF8
        MaildirHandler(case.maildir), hostname="127.0.0.1", port=case.config.port, enable_SMTPUTF8=False
    )
    plain.start()
    try:
        report = dispatch(case.url, case.config)
        gc.collect()
        no_sending(case, report)
    finally:
        plain.stop()
    assert report.count("sent") == RECIPIENTS - 2 and report.count("pending") == 0
    assert {d.unit for d in report.deliveries if d.status == "failed"} == set(BAD)
    failed = {d.unit: d.detail for d in report.deliveries if d.status == "failed"}
    assert failed["90.BD"].startswith("cannot be sent: ValueError: Address 'ubnd 06184 @'"), failed
    assert failed["90.VT"] == "cannot be sent: an internationalised address, and the server offers no SMTPUTF8", failed
    settle(case, matrix, "4: unsendable addresses", 0, {"90.BD": "cannot be sent", "90.VT": "cannot be sent"})


def test_4_an_unsendable_address_leaves_no_connection_open(case: Case) -> None:
    inject(case, {"90.BD": BAD["90.BD"]})
    with serving(case), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        report = dispatch(case.url, case.config)
        gc.collect()
    assert report.count("failed") == 1 and report.count("sent") == RECIPIENTS - 1
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_4_an_internationalised_address_goes_where_the_server_takes_smtputf8(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    monkeypatch.setenv("CHIDAO_SMTPUTF8", "1")
    inject(case, {"90.VT": BAD["90.VT"]})
    controller = Controller(
        MaildirHandler(case.maildir), hostname="127.0.0.1", port=case.config.port, enable_SMTPUTF8=True
    )
    controller.start()
    try:
        report = dispatch(case.url, case.config)
    finally:
        controller.stop()
    assert [(d.unit, d.detail) for d in report.deliveries if d.status != "sent"] == []
    assert "văn@mau.example" in copies(case.maildir)


# --- 5. the connection dropped mid-DATA, before and after the server keeps the message -------------------------


class Dropping(MaildirHandler):
    """At the end of DATA, the first `drops` times, drops the connection without a reply: before keeping the
    message, or after keeping it (the sender cannot know it arrived)."""

    def __init__(self, maildir: Path, drops: int, keep: bool) -> None:
        super().__init__(maildir)
        self.drops, self.keep, self.dropped = drops, keep, 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.dropped < self.drops:
            self.dropped += 1
            if self.keep:
                await super().handle_DATA(server, session, envelope)
            server.transport.abort()
            await asyncio.Event().wait()  # never answers: the lost connection cancels this
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("keep", [False, True], ids=["before-keeping", "after-keeping"])
def test_5_connection_dropped_mid_data(case: Case, matrix: list[Row], keep: bool) -> None:
    # The letter's one message dropped at both tries of the first run: all six deferred, delivered by the next.
    handler = Dropping(case.maildir, 2, keep)
    with serving(case, handler):
        first = dispatch(case.url, case.config)
        no_sending(case, first)
        assert handler.dropped == 2
        assert first.count("pending") == RECIPIENTS and first.count("sent") == first.count("failed") == 0
        pending = held_over(case)
        later = dispatch(case.url, case.config)
        no_sending(case, later)
        assert later.count("sent") == RECIPIENTS
    row = settle(case, matrix, f"5: drop mid-DATA, {'after' if keep else 'before'} keeping", pending, {})
    kept = copies(case.maildir)
    if keep:  # the server kept what it never acknowledged: duplicates, each with the first copy's Message-ID
        assert all(len(ids) == 3 for ids in kept.values()) and row.duplicates == 2 * RECIPIENTS
    else:
        assert row.duplicates == 0 and all(len(ids) == 1 for ids in kept.values())


# --- 6. a server slower than the client's timeout -------------------------------------------------------------


def test_6_a_server_slower_than_the_timeout(case: Case, matrix: list[Row], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail.smtp.Sender, "__init__", _fast_retries(SENDER_INIT, attempts=2, timeout=0.3))
    with serving(case, Flaky(case.maildir, "250 OK", times=0, stall=2.0)):
        first = dispatch(case.url, case.config)
        no_sending(case, first)
    assert first.count("pending") == RECIPIENTS and first.count("sent") == first.count("failed") == 0
    assert all("Timeout" in d.detail for d in first.deliveries), [d.detail for d in first.deliveries]
    pending = held_over(case)
    with serving(case):  # the server is fast again
        later = dispatch(case.url, case.config)
        no_sending(case, later)
    assert later.count("sent") == RECIPIENTS
    settle(case, matrix, "6: server slower than the timeout", pending, {})


# --- 7. SIGKILL of the dispatcher -----------------------------------------------------------------------------


class Gate(MaildirHandler):
    """Keeps messages until `allow` have been kept in all; DATA after that waits (without answering) until the
    gate is raised, or the connection goes. The last message allowed is kept but its reply held back: the
    dispatcher cannot know it arrived."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)
        self.allow, self.kept, self.waiting = 0, 0, 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.waiting += 1
        try:
            while self.kept >= self.allow:
                await asyncio.sleep(0.01)
            self.kept += 1  # no await between the check and this: one event loop, no race
            reply = await super().handle_DATA(server, session, envelope)
            while self.kept == self.allow:  # kept, unanswered, until the gate is raised or the connection goes
                await asyncio.sleep(0.01)
            return reply
        finally:
            self.waiting -= 1


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process is None or process.poll() is None, f"the dispatcher ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


DISPATCH = [sys.executable, "-m", "cli", "dispatch"]
# the same command with batches of 2: a kill lands after some batches were recorded and while the next is sent
SMALL_BATCHES = [
    sys.executable,
    "-c",
    "import sys, chidao.dispatch as d; d.BATCH = 2; from cli import main; main(args=sys.argv[1:])",
    "dispatch",
]


@pytest.mark.parametrize(
    ("command", "kills"),
    [
        # (more messages the server keeps, the last unanswered, before it stalls; rows recorded 'sent' then).
        # One message to the six; with batches of 2, three messages to two recipients each.
        (DISPATCH, [(0, 0), (1, 0)]),  # nothing kept yet; then the message kept, unacknowledged
        (SMALL_BATCHES, [(2, 2), (2, 4)]),  # a batch recorded and the next kept, unacknowledged; then again
    ],
    ids=["cli-dispatch", "batches-of-2"],
)
def test_7_sigkill_of_the_dispatcher(
    case: Case,
    matrix: list[Row],
    tmp_path: Path,
    command: list[str],
    kills: list[tuple[int, int]],
    prefect_api_url: str,
) -> None:
    gate = Gate(case.maildir)
    # CHIDAO_DATABASE_URL, CHIDAO_SMTP_URL, CHIDAO_DATA_DIR, CHIDAO_KEYS of this test; the session's Prefect API
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    assert env["CHIDAO_DATABASE_URL"] == case.url
    log = tmp_path / "dispatcher.log"
    with serving(case, gate):
        for n, (more, recorded) in enumerate(kills, 1):
            gate.allow = gate.kept + more

            def at_kill_point(recorded: int = recorded) -> bool:
                return gate.kept >= gate.allow and gate.waiting > 0 and statuses(case)["sent"] >= recorded

            with log.open("ab") as out:
                process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
            try:
                wait_for(
                    at_kill_point, f"kill point {n}: {gate.allow} kept, {recorded} recorded, a message waiting", process
                )
                assert process.poll() is None, "the kill must land while the dispatcher is sending"
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait()
            wait_for(lambda: gate.waiting == 0, "the killed dispatcher's connections to go")
            counts = statuses(case)
            assert counts["sending"] > 0 and counts["sent"] == recorded, (n, counts)
        pending = held_over(case)
        gate.allow = 10**6
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stdout + final.stderr
        assert final.stdout.startswith(f"Sent {RECIPIENTS - kills[-1][1]} message(s)"), final.stdout
    name = "cli dispatch" if command == DISPATCH else "batches of 2"
    row = settle(case, matrix, f"7: SIGKILL x{len(kills)} ({name}), resumed", pending, {})
    assert row.duplicates > 0  # kept but not yet recorded when killed: sent again, same Message-ID (checked)
