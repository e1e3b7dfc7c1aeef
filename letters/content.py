"""A letter as structured content: what the templates print and what an approver may edit."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from hierarchy.model import Signer
from letters.dates import long_date
from letters.doctypes import reference


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipient(_Frozen):
    """One 'Kính gửi' line and the units it stands for."""

    label: str
    units: tuple[str, ...]


class LetterSection(_Frozen):
    title: str
    items: tuple[str, ...]


class Letter(_Frozen):
    """Everything printed on the page. number/issued_on are None while the letter is a draft."""

    unit: str
    parent_body: str | None
    issuer_name: str
    doc_type: str
    notation: str
    number: int | None = None
    issued_on: date | None = None
    draft_date: date
    place: str
    urgency: str | None = None
    subject: str
    recipients: tuple[Recipient, ...]
    opening: str
    sections: tuple[LetterSection, ...]
    closing: str
    note: str | None = None
    copies: tuple[str, ...]
    signer: Signer

    @property
    def is_draft(self) -> bool:
        return self.number is None

    @property
    def reference(self) -> str:
        """'590/STTTT-TTBCXB', or '/STTTT-TTBCXB' for a draft."""
        return reference(self.number, self.notation)

    @property
    def dateline(self) -> str:
        """'Lạng Sơn, ngày 05 tháng 02 năm 2024', the day blank on a draft."""
        when = self.issued_on or self.draft_date
        return f"{self.place}, {long_date(when, blank_day=self.issued_on is None)}"

    @property
    def recipient_units(self) -> tuple[str, ...]:
        return tuple(code for r in self.recipients for code in r.units)
