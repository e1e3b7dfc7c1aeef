"""The outbox as people see it: the copies of signed letters not delivered yet (deferred, being sent, failed),
and putting them back to be sent now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from chidao.approval import OUT
from chidao.dispatch import Delivery
from db import events
from db.engine import transaction
from db.models import LetterRecord, RecipientRecord


def resend(url: str, letter_id: int, unit: str | None = None, actor: str = "chidao") -> int:
    """Put a letter's failed copies back in the outbox, and its deferred ones due now; returns how many
    (logged with who asked)."""
    with transaction(url) as session:
        letter = session.get(LetterRecord, letter_id)
        if letter is None or letter.status not in OUT:
            return 0  # a draft's copies wait for its signature, not for a re-send
        rows = session.scalars(
            select(RecipientRecord).where(
                RecipientRecord.letter_id == letter_id, RecipientRecord.status.in_(("failed", "pending"))
            )
        ).all()
        rows = [r for r in rows if unit is None or r.unit_code == unit]
        for row in rows:
            row.status, row.retry_at = "pending", None
        if rows:
            events.record(
                session,
                letter.cascade_id,
                "delivery.retried",
                actor,
                {"units": [r.unit_code for r in rows]},
                letter_id=letter_id,
            )
        return len(rows)


def failed(url: str) -> list[Delivery]:
    return [d for d in outbox(url, ("failed",))]


@dataclass
class Waiting(Delivery):
    """A copy not delivered: failed for good, or deferred (with when it goes again), and how often tried."""

    attempts: int = 0
    retry_at: datetime | None = None


def outbox(url: str, states: tuple[str, ...] = ("pending", "sending", "failed")) -> list[Waiting]:
    """The copies of signed letters not delivered yet, oldest letter first."""
    with transaction(url) as session:
        rows = session.scalars(
            select(RecipientRecord)
            .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
            .where(RecipientRecord.status.in_(states), LetterRecord.status.in_(OUT))
            .order_by(RecipientRecord.letter_id, RecipientRecord.position)
        )
        return [
            Waiting(r.letter_id, r.unit_code, r.email, r.status, r.last_error or "", r.attempts, r.retry_at)
            for r in rows
        ]
