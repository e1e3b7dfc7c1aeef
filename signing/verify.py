"""What a receiving office asks of a signed letter: who signed it, which body issued it, its number and
date, when each signed, whether each signature is intact, valid and trusted, and whether anything was
changed after signing (beyond filling the number and the day, which the approver's signature permits)."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from letters.pdf import DAY, NUMBER, SEAL, SIGNATURE
from signing.pades import validation_context

ROLES = {SIGNATURE: "approver", SEAL: "issuing body"}


@dataclass
class SignatureCheck:
    field: str
    role: str
    signer: str  # the certificate's common name
    organisation: str
    signed_at: str  # ISO 8601 in Vietnam's time
    intact: bool
    valid: bool
    trusted: bool
    modification: str  # what was done after it: NONE, FORM_FILLING, ANNOTATIONS, OTHER
    covers_whole_file: bool
    problem: str = ""

    @property
    def holds(self) -> bool:
        return self.intact and self.valid and self.trusted and not self.problem


@dataclass
class Verification:
    readable: bool
    title: str = ""
    author: str = ""
    number: str = ""
    day: str = ""
    signatures: list[SignatureCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Both signatures there and holding, and nothing changed after the last one."""
        return self.readable and not self.problems and all(s.holds for s in self.signatures)

    def to_data(self) -> dict[str, Any]:
        return asdict(self) | {"holds": self.holds}


def _name(cert: Any, key: str) -> str:
    try:
        return str(cert.subject.native.get(key, ""))
    except (AttributeError, ValueError):
        return ""


def verify_pdf(data: bytes, trust: list[Any], zone: ZoneInfo | None = None) -> Verification:
    """Check a letter's signatures against the trusted CAs (pyHanko's validation, diff analysis included)."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    zone = zone or ZoneInfo("Asia/Ho_Chi_Minh")
    try:
        reader = PdfFileReader(io.BytesIO(data))
        signatures = list(reader.embedded_signatures)
        found_info: Any = reader.trailer_view.get("/Info")
        info = found_info.get_object() if found_info is not None else None
        values = _field_values(reader)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        return Verification(False, problems=[f"not a readable PDF: {exc}"])
    found = Verification(
        True,
        title=str(info.get("/Title", "")) if info else "",
        author=str(info.get("/Author", "")) if info else "",
        number=values.get(NUMBER, ""),
        day=values.get(DAY, ""),
    )
    for embedded in signatures:
        name = str(embedded.field_name)
        try:
            status = validate_pdf_signature(embedded, validation_context(trust))
        except (PdfError, ValueError) as exc:
            found.problems.append(f"signature {name}: cannot be checked: {exc}")
            continue
        when: datetime | None = status.signer_reported_dt or embedded.self_reported_timestamp
        level = status.modification_level.name if status.modification_level is not None else "OTHER"
        check = SignatureCheck(
            field=name,
            role=ROLES.get(name, "other"),
            signer=_name(status.signing_cert, "common_name"),
            organisation=_name(status.signing_cert, "organization_name"),
            signed_at=when.astimezone(zone).isoformat() if when else "",
            intact=status.intact,
            valid=status.valid,
            trusted=status.trusted,
            modification=level,
            covers_whole_file=status.coverage is not None and status.coverage.name == "ENTIRE_FILE",
        )
        if not status.docmdp_ok:
            check.problem = f"changed after signing beyond what it permits ({level})"
        found.signatures.append(check)
    present = {s.field for s in found.signatures}
    for wanted, role in ROLES.items():
        if wanted not in present:
            found.problems.append(f"no {role}'s signature")
    if found.signatures and not found.signatures[-1].covers_whole_file:
        found.problems.append("the file was changed after its last signature")
    return found


def _field_values(reader: Any) -> dict[str, str]:
    """The filled-in form fields' values (the number, the day)."""
    form = reader.root.get("/AcroForm")
    out: dict[str, str] = {}
    if form is None:
        return out
    form = form.get_object()
    for ref in form.get("/Fields", []):
        item = ref.get_object()
        value = item.get("/V")
        if item.get("/FT") == "/Tx" and value is not None:
            out[str(item.get("/T"))] = str(value)
    return out
