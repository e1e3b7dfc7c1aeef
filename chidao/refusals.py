"""Refused attempts: someone acting for a unit that is not theirs. Every refusal is logged as an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db import events


class Refused(Exception):
    """A person may not do this; carries what the event log records about the attempt."""

    def __init__(
        self,
        message: str,
        *,
        user: str,
        cascade_id: int | None,
        action: str,
        letter_id: int | None = None,
        **detail: Any,
    ) -> None:
        super().__init__(message)
        self.user, self.cascade_id, self.action, self.letter_id, self.detail = (
            user,
            cascade_id,
            action,
            letter_id,
            detail,
        )


def record_refusal(session: Session, refused: Refused) -> None:
    """Log a refused attempt; call it in a transaction of its own (the refused one rolls back)."""
    events.record(
        session,
        refused.cascade_id,
        "attempt.refused",
        refused.user,
        {"action": refused.action, "reason": str(refused), **refused.detail},
        letter_id=refused.letter_id,
    )
