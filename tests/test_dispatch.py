"""Dispatch over real SMTP on loopback: each recipient gets its letter once; refusals are recorded."""

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session
from click.testing import CliRunner

from chidao import approval
from chidao.dispatch import dispatch
from chidao.outbox import failed, resend
from cli import main
from db.engine import transaction
from db.models import LetterDocument, LetterRecord, RecipientRecord
from mail.sink import MaildirHandler, messages, start_sink
from mail.smtp import SmtpConfig
from tests.steps import SIGNED, draft_cascade


def parsed(maildir: Path) -> list[EmailMessage]:
    out = []
    for m in messages(maildir):
        msg = message_from_bytes(m, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def approve_root(url: str, ids: dict[str, int]) -> None:
    with transaction(url) as session:
        approval.approve(session, ids["90.S"], "so-gd", on=SIGNED)


def test_every_recipient_gets_exactly_its_letter(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    approve_root(chidao_env, ids)
    report = dispatch(chidao_env, SmtpConfig.from_url(smtp_url))
    assert report.count("sent") == 6 and report.count("failed") == 0
    with transaction(chidao_env) as session:
        root = session.get_one(LetterRecord, ids["90.S"])
        assert root.status == "sent"

        signed = session.get_one(LetterDocument, root.id).pdf
        rows = session.query(RecipientRecord).filter_by(letter_id=root.id).order_by(RecipientRecord.position).all()
        expected = {r.email: r.message_id for r in rows}
        names = [r.name for r in rows]
    got = parsed(sink)
    assert sorted(m["X-Envelope-To"] for m in got) == sorted(expected)
    assert len(set(expected.values())) == 1, "one message for the letter: every copy carries its Message-ID"
    for m in got:  # each mailbox's copy of the one message, addressed to all as the letter is
        assert [a.addr_spec for a in m["To"].addresses] == list(expected)
        assert [a.display_name for a in m["To"].addresses] == names
        assert m.get_body(("plain",)).get_content().startswith("Kính gửi:\n- " + names[0] + ";\n")
        assert m["Message-ID"] == expected[m["X-Envelope-To"]]
        assert m["Subject"] == (
            "Công văn số 01/SVHTT-HTS ngày 05/02/2024 - V/v tăng cường tuyên truyền và bảo đảm thông tin liên lạc "
            "Kỳ thi chọn học sinh giỏi cấp quốc gia THPT năm học 2023-2023"
        )
        pdf, document = list(m.iter_attachments())  # the signed letter, and an editable copy
        assert pdf.get_filename() == "01-SVHTT-HTS.pdf" and pdf.get_content_type() == "application/pdf"
        assert pdf.get_content() == signed
        assert document.get_filename() == "01-SVHTT-HTS.docx"
        assert document.get_content_type().endswith("wordprocessingml.document")
        assert document.get_content()[:2] == b"PK"  # a zip container, as a Word file is
    # Sending again sends nothing: every recipient has it.
    assert dispatch(chidao_env, SmtpConfig.from_url(smtp_url)).deliveries == []
    assert len(parsed(sink)) == 6


class Refusing(MaildirHandler):
    """Refuses some recipients for good (550) and others for a while (451)."""

    def __init__(self, maildir: Path, refuse: set[str], busy: dict[str, int]) -> None:
        super().__init__(maildir)
        self.refuse, self.busy = refuse, busy

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        if self.busy.get(address, 0) > 0:
            self.busy[address] -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_5xx_fails_that_recipient_4xx_is_retried_and_failures_can_be_resent(
    chidao_env: str, mini_directive: Path, maildir: Path, smtp_url: str
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    approve_root(chidao_env, ids)
    port = int(smtp_url.rsplit(":", 1)[1])
    controller = start_sink(maildir, port, Refusing(maildir, {"bao@mau.example"}, {"dai@mau.example": 2}))
    try:
        result = CliRunner().invoke(main, ["dispatch"])
        assert result.exit_code == 3  # done, some copies not delivered
        assert "Sent 5 message(s)" in result.output and "1 failed" in result.output
        assert "90.BAO <bao@mau.example>: failed: 550 5.1.1 Mailbox unavailable" in result.stderr
        with transaction(chidao_env) as session:
            dai = session.query(RecipientRecord).filter_by(letter_id=ids["90.S"], unit_code="90.DAI").one()
            assert (dai.status, dai.attempts) == ("sent", 1)
            assert session.get_one(LetterRecord, ids["90.S"]).status == "approved"  # not all recipients have it
        assert [(d.unit, d.detail) for d in failed(chidao_env)] == [("90.BAO", "550 5.1.1 Mailbox unavailable")]
        listed = CliRunner().invoke(main, ["letters", "failed"])
        assert "90.BAO" in listed.output and "550 5.1.1" in listed.output
    finally:
        controller.stop()
    controller = start_sink(maildir, port)  # the mailbox is fixed
    try:
        resent = CliRunner().invoke(main, ["letters", "resend", str(ids["90.S"])])
        assert resent.exit_code == 0 and "Sent 1 message(s)" in resent.output
    finally:
        controller.stop()
    with transaction(chidao_env) as session:
        assert session.get_one(LetterRecord, ids["90.S"]).status == "sent"
    assert sorted(m["X-Envelope-To"] for m in parsed(maildir)).count("bao@mau.example") == 1


def test_no_server_defers_every_message_and_loses_none(
    chidao_env: str, mini_directive: Path, maildir: Path, smtp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    approve_root(chidao_env, ids)
    config = SmtpConfig.from_url(smtp_url)  # nothing listens there yet: connection refused
    import mail.smtp

    monkeypatch.setattr(mail.smtp.Sender, "__init__", _fast_retries(mail.smtp.Sender.__init__))
    report = dispatch(chidao_env, config)
    assert report.count("pending") == 6 and report.count("sent") == 0
    assert all("ConnectionRefused" in d.detail or "Connect" in d.detail for d in report.deliveries)
    controller = start_sink(maildir, config.port)
    try:
        assert dispatch(chidao_env, config).count("sent") == 6
    finally:
        controller.stop()
    assert len(parsed(maildir)) == 6


def _fast_retries(init: Any, attempts: int = 2, timeout: float = 5) -> Any:
    def fast(self: Any, config: SmtpConfig, **kw: Any) -> None:
        init(self, config, attempts=attempts, backoff=0.01, timeout=timeout)

    return fast


def test_resend_only_touches_failed_recipients(chidao_env: str, mini_directive: Path) -> None:
    ids = draft_cascade(chidao_env, mini_directive)
    assert resend(chidao_env, ids["90.S"]) == 0


def test_smtp_url_forms() -> None:
    assert SmtpConfig.from_url("smtp://127.0.0.1:2525") == SmtpConfig("127.0.0.1", 2525)
    tls = SmtpConfig.from_url("smtp+starttls://ván%40x:p%3Ass@localhost")
    assert (tls.port, tls.start_tls, tls.username, tls.password) == (587, True, "ván@x", "p:ss")
    assert SmtpConfig.from_url("smtps://localhost").use_tls
    with pytest.raises(ValueError, match="CHIDAO_SMTP_URL"):
        SmtpConfig.from_url("http://localhost")


class Flaky(MaildirHandler):
    """Answers RCPT with the given reply a number of times, then accepts; can also stall on DATA."""

    def __init__(self, maildir: Path, reply: str, times: int, stall: float = 0.0) -> None:
        super().__init__(maildir)
        self.reply, self.times, self.stall = reply, times, stall

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.times > 0:
            self.times -= 1
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.stall:
            import asyncio

            await asyncio.sleep(self.stall)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("reply", ["421 4.3.2 Service shutting down", "451 4.3.0 Try again later"])
def test_transient_replies_are_retried_until_accepted(
    sqlite_url: str, mini_directive: Path, maildir: Path, smtp_url: str, monkeypatch: pytest.MonkeyPatch, reply: str
) -> None:
    import mail.smtp

    monkeypatch.setattr(mail.smtp.Sender, "__init__", _fast_retries(mail.smtp.Sender.__init__, attempts=4))
    ids = draft_cascade(sqlite_url, mini_directive)
    approve_root(sqlite_url, ids)
    config = SmtpConfig.from_url(smtp_url)
    controller = start_sink(maildir, config.port, Flaky(maildir, reply, times=2))
    try:
        report = dispatch(sqlite_url, config)
    finally:
        controller.stop()
    assert report.count("sent") == 6
    with transaction(sqlite_url) as session:
        first = (
            session.query(RecipientRecord).filter_by(letter_id=ids["90.S"]).order_by(RecipientRecord.position).first()
        )
        assert first is not None and first.status == "sent"
    assert len(parsed(maildir)) == 6


def test_a_server_too_slow_to_answer_defers_the_message(
    sqlite_url: str, mini_directive: Path, maildir: Path, smtp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mail.smtp

    monkeypatch.setattr(mail.smtp.Sender, "__init__", _fast_retries(mail.smtp.Sender.__init__, attempts=2, timeout=0.3))
    ids = draft_cascade(sqlite_url, mini_directive)
    approve_root(sqlite_url, ids)
    config = SmtpConfig.from_url(smtp_url)
    controller = start_sink(maildir, config.port, Flaky(maildir, "250 OK", times=0, stall=2.0))
    try:
        report = dispatch(sqlite_url, config, [ids["90.S"]])
    finally:
        controller.stop()
    assert report.count("sent") == 0 and report.count("pending") == 6
    assert all("Timeout" in d.detail for d in report.deliveries)
    with transaction(sqlite_url) as session:
        rows = session.query(RecipientRecord).filter_by(letter_id=ids["90.S"]).all()
        assert {r.status for r in rows} == {"pending"} and all(r.last_error for r in rows)


def test_a_letters_recipients_stay_in_one_batch_unless_more_than_a_batch() -> None:
    from chidao.dispatch import batches

    rows = [(i, letter) for i, letter in enumerate([1] * 30 + [2] * 50 + [3] * 40 + [4] * 200 + [5] * 3)]
    cut = batches(rows, 100)
    assert [len(b) for b in cut] == [80, 40, 100, 100, 3]  # letters 1-2; 3; 4 (200) cut in two; 5
    assert [rid for b in cut for rid in b] == [rid for rid, _ in rows]  # every row once, in order
    assert batches([(i, 7) for i in range(6)], 2) == [[0, 1], [2, 3], [4, 5]]


def test_docx_drawn_ahead_in_worker_processes_is_the_letters_own(
    chidao_env: str, mini_directive: Path, sink: Path, smtp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chidao.drawing
    from db.cascades import letter_content
    from letters.docx import render_docx

    monkeypatch.setattr(chidao.drawing, "DRAW_AHEAD", 1)  # a national run's path, on one letter
    monkeypatch.setattr(chidao.drawing, "cores", lambda: 2)
    ids = draft_cascade(chidao_env, mini_directive)
    approve_root(chidao_env, ids)
    pool, drawn = chidao.drawing.drawn_ahead(chidao_env, [ids["90.S"]])
    assert pool is not None and list(drawn) == [ids["90.S"]]
    pool.shutdown()
    report = dispatch(chidao_env, SmtpConfig.from_url(smtp_url))
    assert report.count("sent") == 6
    with transaction(chidao_env) as session:
        expected = render_docx(letter_content(session.get_one(LetterRecord, ids["90.S"])))
    for m in parsed(sink):  # the same parts (a zip's entries carry the time they were written: not compared)
        _, document = list(m.iter_attachments())
        assert _parts(document.get_content()) == _parts(expected)


def _parts(docx: bytes) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
