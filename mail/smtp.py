"""Sending through aiosmtplib to CHIDAO_SMTP_URL, with back-off on what may pass on a retry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote, urlsplit
from weakref import WeakKeyDictionary

import aiosmtplib
from aiosmtplib.email import flatten_message, parse_address


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


_FLAT: WeakKeyDictionary[Message, dict[tuple[bool, str], bytes]] = WeakKeyDictionary()


def flattened(message: Message, utf8: bool, cte_type: str) -> bytes:
    """The message as bytes on the wire, made once per message and form: a letter going to many recipients, or
    tried again, is not encoded again."""
    forms = _FLAT.setdefault(message, {})
    if (utf8, cte_type) not in forms:
        forms[(utf8, cte_type)] = flatten_message(message, utf8=utf8, cte_type=cte_type)
    return forms[(utf8, cte_type)]


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
        """Send one message to one recipient (see send_many). Never raises."""
        return (await self.send_many(message, sender, [recipient]))[recipient]

    async def send_many(self, message: Message, sender: str, recipients: Sequence[str]) -> dict[str, Outcome]:
        """One SMTP transaction for all `recipients` (MAIL, an RCPT each, one DATA), each recipient's outcome read
        from the server's replies: accepted, refused for good (5xx), or refused for now (4xx: tried again with
        the others still waiting, with doubling delays). A failure of the whole transaction (no connection, a
        reply to MAIL or DATA, a drop) is every waiting recipient's. Never raises: an address that cannot be
        sent fails alone, before anything goes out, and the others go on."""
        try:
            parse_address(sender)
        except ValueError as exc:
            return {r: Outcome(False, f"cannot be sent: ValueError: {exc}", 1) for r in recipients}
        outcomes: dict[str, Outcome] = {}
        for address in dict.fromkeys(recipients):
            try:
                parse_address(address)
            except ValueError as exc:
                outcomes[address] = Outcome(False, f"cannot be sent: ValueError: {exc}", 1)
        waiting = [r for r in dict.fromkeys(recipients) if r not in outcomes]
        detail, unreachable, attempt = "", False, 0
        for attempt in range(1, self.attempts + 1):
            if not waiting:
                break
            connected = self.client is not None and self.client.is_connected
            try:
                client = await self._connect()
                connected = True
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()  # the server says what it offers in its EHLO reply
                utf8 = not (sender + "".join(waiting)).isascii()
                if utf8 and not client.supports_extension("smtputf8"):
                    no = "cannot be sent: an internationalised address, and the server offers no SMTPUTF8"
                    for address in waiting if not sender.isascii() else [r for r in waiting if not r.isascii()]:
                        outcomes[address] = Outcome(False, no, attempt)
                    waiting, utf8 = [r for r in waiting if r not in outcomes], False
                    if not waiting:
                        break
                options = ["SMTPUTF8"] if utf8 else []
                eight_bit = client.supports_extension("8BITMIME")
                if eight_bit:
                    options.append("BODY=8BITMIME")
                data = flattened(message, utf8, "8bit" if eight_bit else "7bit")
                try:
                    errors, response = await client.sendmail(sender, waiting, data, mail_options=options)
                except aiosmtplib.SMTPRecipientsRefused as exc:  # every RCPT refused: nothing sent
                    errors = {r.recipient: aiosmtplib.SMTPResponse(r.code, r.message) for r in exc.recipients}
                    response = ""
                again = []
                for address in waiting:
                    if address not in errors:
                        outcomes[address] = Outcome(True, response, attempt)
                        continue
                    code, text = errors[address]
                    if 400 <= code < 500:
                        again.append(address)
                        detail = f"{code} {text}"
                    else:
                        outcomes[address] = Outcome(False, f"{code} {text}", attempt)
                waiting = again
                if waiting and attempt < self.attempts:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                transient, detail = _classify(exc)
                if isinstance(exc, (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError)):
                    self.client = None
                if isinstance(exc, aiosmtplib.SMTPNotSupported) or not transient:
                    prefix = "cannot be sent: " if isinstance(exc, aiosmtplib.SMTPNotSupported) else ""
                    outcomes.update({r: Outcome(False, prefix + detail, attempt) for r in waiting})
                    return outcomes
                unreachable = not connected
                if unreachable and attempt >= 2:
                    break  # nobody answers: the dispatch decides when to come back, not this message
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            except (ValueError, UnicodeError, LookupError) as exc:  # the message itself is unsendable
                if self.client is not None:
                    self.client.close()  # refused before a command went out, yet the connection must not leak
                self.client = None
                outcomes.update(
                    {r: Outcome(False, f"cannot be sent: {type(exc).__name__}: {exc}", attempt) for r in waiting}
                )
                return outcomes
        for address in waiting:
            outcomes[address] = Outcome(
                False, f"gave up after {attempt} attempts: {detail}", attempt, deferred=True, unreachable=unreachable
            )
        return outcomes

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except aiosmtplib.SMTPException:
                self.client.close()
        self.client = None
