"""A local SMTP sink on loopback that keeps every message in a Maildir: for trying chidao and for tests."""

from __future__ import annotations

import mailbox
import socket
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

LOOPBACK = "127.0.0.1"


class MaildirHandler:
    """Stores each accepted message in a Maildir, a copy per envelope recipient (as a mail system delivers one
    into each mailbox), marked with that recipient."""

    def __init__(self, maildir: Path) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(maildir, create=True)
        for sub in ("tmp", "new", "cur"):  # an existing empty folder is not made a Maildir by the above
            (maildir / sub).mkdir(exist_ok=True)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        for recipient in envelope.rcpt_tos:
            self.box.add(f"X-Envelope-To: {recipient}\r\n".encode() + content)
        return "250 Message accepted"


def free_port() -> int:
    """A port nothing listens on right now, on loopback."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def start_sink(maildir: Path, port: int = 0, handler: Any | None = None) -> Controller:
    """Start a sink on 127.0.0.1 (port 0: a free one); stop it with .stop(). Only loopback, ever."""
    controller = Controller(handler or MaildirHandler(maildir), hostname=LOOPBACK, port=port)
    controller.start()
    return controller


def copies(maildir: Path) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of every copy the sink kept, oldest first: one message to many recipients is a
    copy each; a copy kept twice is a message that arrived twice."""
    out = []
    for raw in messages(maildir):
        message = message_from_bytes(raw)
        out.append((str(message["X-Envelope-To"]), str(message["Message-ID"])))
    return out


def messages(maildir: Path) -> list[bytes]:
    """Every message the sink kept, as received (bytes), oldest first."""
    box = mailbox.Maildir(maildir, create=False)
    keys = sorted(box.keys(), key=lambda k: (box.get_message(k).get_date(), k))
    return [box.get_bytes(k) for k in keys]
