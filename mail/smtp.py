"""Sending through aiosmtplib to CHIDAO_SMTP_URL, with back-off on what may pass on a retry."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote, urlsplit

import aiosmtplib


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    use_tls: bool = False
    start_tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """smtp://host:25 (plain), smtp+starttls://user:pass@host:587, smtps://host:465 (TLS)."""
        parts = urlsplit(url)
        schemes = {"smtp": (False, False, 25), "smtp+starttls": (False, True, 587), "smtps": (True, False, 465)}
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"CHIDAO_SMTP_URL: expected smtp://, smtp+starttls:// or smtps://host[:port], got {url!r}")
        use_tls, start_tls, default_port = schemes[parts.scheme]
        return cls(
            parts.hostname,
            parts.port or default_port,
            use_tls,
            start_tls,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True)
class Outcome:
    """What became of one message: sent; failed for good (a 5xx, or an address that cannot be sent), with the
    reason; or deferred (no connection, or 4xx replies after every attempt), to be tried again later."""

    sent: bool
    detail: str
    attempts: int
    deferred: bool = False
    unreachable: bool = False  # deferred because the server could not be reached at all


class Transient(Exception):
    """Worth another try: a connection problem or a 4xx reply."""


def _classify(exc: Exception) -> tuple[bool, str]:
    """(transient, text) for an SMTP failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return all(400 <= c < 500 for c in codes), text
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 400 <= exc.code < 500, f"{exc.code} {exc.message}"
    return True, f"{type(exc).__name__}: {exc}"


class Sender:
    """One connection reused for many messages; reconnects after a drop."""

    def __init__(self, config: SmtpConfig, *, attempts: int = 5, backoff: float = 0.2, timeout: float = 30) -> None:
        self.config, self.attempts, self.backoff, self.timeout = config, attempts, backoff, timeout
        self.client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        if self.client is not None and self.client.is_connected:
            return self.client
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            username=c.username,
            password=c.password,
            timeout=self.timeout,
        )
        await client.connect()
        self.client = client
        return client

    async def send(self, message: Message, sender: str, recipient: str) -> Outcome:
        """Send one message; retry connection errors and 4xx replies with doubling delays. Never raises: whatever
        goes wrong with this message is its outcome alone (an address the server cannot take fails it)."""
        detail, unreachable = "", False
        for attempt in range(1, self.attempts + 1):
            connected = self.client is not None and self.client.is_connected
            try:
                client = await self._connect()
                connected = True
                if not (sender + recipient).isascii() and client.is_ehlo_or_helo_needed:
                    await client.ehlo()  # the server says what it offers in its EHLO reply
                if not (sender + recipient).isascii() and not client.supports_extension("smtputf8"):
                    return Outcome(
                        False,
                        "cannot be sent: an internationalised address, and the server offers no SMTPUTF8",
                        attempt,
                    )
                errors, response = await client.send_message(message, sender=sender, recipients=[recipient])
                if errors:  # a refusal of our only recipient is reported here by some servers
                    code, text = next(iter(errors.values()))
                    if 400 <= code < 500:
                        raise aiosmtplib.SMTPResponseException(code, text)
                    return Outcome(False, f"{code} {text}", attempt)
                return Outcome(True, response, attempt)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                transient, detail = _classify(exc)
                if isinstance(exc, (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError)):
                    self.client = None
                if isinstance(exc, aiosmtplib.SMTPNotSupported):  # e.g. an address that needs SMTPUTF8
                    return Outcome(False, f"cannot be sent: {detail}", attempt)
                if not transient:
                    return Outcome(False, detail, attempt)
                unreachable = not connected
                if unreachable and attempt >= 2:
                    break  # nobody answers: the dispatch decides when to come back, not this message
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            except (ValueError, UnicodeError, LookupError) as exc:  # the message or address itself is unsendable
                if self.client is not None:
                    self.client.close()  # refused before a command went out, yet the connection must not leak
                self.client = None
                return Outcome(False, f"cannot be sent: {type(exc).__name__}: {exc}", attempt)
        return Outcome(
            False, f"gave up after {attempt} attempts: {detail}", attempt, deferred=True, unreachable=unreachable
        )

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except aiosmtplib.SMTPException:
                self.client.close()
        self.client = None
