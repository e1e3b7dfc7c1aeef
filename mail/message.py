"""The message that carries a letter: one per letter, to all its recipients, as the letter itself names them."""

from __future__ import annotations

from datetime import datetime
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

from letters.content import Letter
from letters.dates import short_date
from letters.render import render_html

DOCX = "vnd.openxmlformats-officedocument.wordprocessingml.document"


def address_header(name: str, address: str) -> str:
    """'Name <address>' for a header, the name encoded; an internationalised address (SMTPUTF8) as it is."""
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    return f"{Header(name, 'utf-8').encode()} <{address}>"


def letter_message_id(letter_id: int, sha256: str, domain: str) -> str:
    """The id of a letter's one message: deterministic, so a re-send after a crash, or to a recipient whose
    server refused it for a while, carries the same id and the receiver can drop the copy."""
    return f"<letter-{letter_id}.{sha256[:16]}@{domain}>"


def message_id(letter_id: int, unit_code: str, sha256: str, domain: str) -> str:
    """The id a message to one recipient carried before letters went out as one message to all: copies still in
    an outbox keep it, and an audit of those years checks it."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in unit_code)
    return f"<letter-{letter_id}.{safe}.{sha256[:16]}@{domain}>"


def subject_of(letter: Letter) -> str:
    """'Công văn số 01/VHTT ngày 05/02/2024 - V/v …'."""
    when = short_date(letter.issued_on) if letter.issued_on else ""
    return f"{letter.doc_type} số {letter.reference} ngày {when} - V/v {letter.subject}"


def build_message(
    letter: Letter,
    *,
    sender: tuple[str, str],
    recipients: list[tuple[str, str]],
    msg_id: str,
    sent: datetime,
    docx: bytes | None = None,
    pdf: bytes | None = None,
) -> MIMEMultipart:
    """A short Vietnamese body greeting the recipients as the letter's "Kính gửi" does; the letter itself
    attached: the signed PDF, the official document (else, for a letter issued before chidao signed letters,
    the HTML page), and the DOCX as an editable copy. One message for all recipients: each server's reply
    for each of them is read apart (mail.smtp.Sender.send_many).

    Headers go through email.header.Header: the newer folder of the email package drops the space
    between two encoded words of a long Vietnamese subject ("và bảo" arrives as "vàbảo").
    """
    message = MIMEMultipart()
    message["From"] = address_header(*sender)
    message["To"] = ", ".join(address_header(*recipient) for recipient in recipients)
    message["Subject"] = Header(subject_of(letter), "utf-8")  # type: ignore[assignment]  # typeshed: str only
    message["Message-ID"] = msg_id
    message["Date"] = format_datetime(sent)
    if letter.urgency:
        message["X-Priority"] = "1"
    when = short_date(letter.issued_on) if letter.issued_on else ""
    names = [name for name, _ in recipients]
    greeting = (
        f"Kính gửi: {names[0]}." if len(names) == 1 else "Kính gửi:\n" + ";\n".join(f"- {n}" for n in names) + "."
    )
    body = (
        f"{greeting}\n\n"
        f"{letter.issuer_name} gửi {letter.doc_type.lower()} số {letter.reference} ngày {when} "
        f"về việc {letter.subject}.\n\n"
        + (
            "Văn bản điện tử có chữ ký số của người có thẩm quyền và của cơ quan ban hành được đính kèm (PDF)"
            if pdf
            else "Văn bản được đính kèm (HTML để xem và in"
        )
        + ("; bản DOCX để tham khảo, chỉnh sửa" if docx else "")
        + (".\n" if pdf else ").\n")
    )
    message.attach(MIMEText(body, "plain", "utf-8"))
    stem = letter.reference.replace("/", "-")
    if pdf is not None:
        signed = MIMEApplication(pdf, "pdf")
        signed.add_header("Content-Disposition", "attachment", filename=f"{stem}.pdf")
        message.attach(signed)
    else:
        page = MIMEText(render_html(letter), "html", "utf-8")
        page.add_header("Content-Disposition", "attachment", filename=f"{stem}.html")
        message.attach(page)
    if docx is not None:
        document = MIMEApplication(docx, DOCX)
        document.add_header("Content-Disposition", "attachment", filename=f"{stem}.docx")
        message.attach(document)
    return message


def plain_message(
    subject: str, body: str, *, sender: tuple[str, str], recipient: tuple[str, str], msg_id: str, sent: datetime
) -> MIMEText:
    """A short text message (reminders, escalations), headers encoded as for letters."""
    message = MIMEText(body, "plain", "utf-8")
    message["From"] = address_header(*sender)
    message["To"] = address_header(*recipient)
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]  # typeshed: str only
    message["Message-ID"] = msg_id
    message["Date"] = format_datetime(sent)
    return message
