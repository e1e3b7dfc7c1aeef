"""A cascade's counts per level, as Prefect's table artifact shows them: `chidao reports status`'s (units,
letters sent, reports due, on request, overdue, received on time, late) and the letters drafted and signed
and the copies that failed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chidao.status import cascade_status
from db.models import LetterRecord, RecipientRecord


def cascade_counts(session: Session, cascade_id: int, today: date) -> list[dict[str, int]]:
    status, _ = cascade_status(session, cascade_id, today)
    letters: dict[int, dict[str, int]] = {}
    for depth, state, number in session.execute(
        select(LetterRecord.depth, LetterRecord.status, func.count())
        .where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter")
        .group_by(LetterRecord.depth, LetterRecord.status)
    ):
        letters.setdefault(depth, {})[state] = number
    failed: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(LetterRecord.depth, func.count(RecipientRecord.id))
            .join(RecipientRecord, RecipientRecord.letter_id == LetterRecord.id)
            .where(LetterRecord.cascade_id == cascade_id, RecipientRecord.status == "failed")
            .group_by(LetterRecord.depth)
        ).all()
    )
    rows = []
    for depth, level in enumerate(status.levels()):
        drafted = letters.get(depth, {})
        rows.append(
            {"level": depth, **level}
            | {
                "letters_drafted": sum(drafted.values()),
                "letters_signed": drafted.get("approved", 0) + drafted.get("sent", 0),
                "copies_failed": failed.get(depth, 0),
            }
        )
    return rows


def cascades_of(session: Session, letter_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Each letter's cascade and the cascade's issuer."""
    rows = session.execute(
        select(LetterRecord.id, LetterRecord.cascade_id).where(LetterRecord.id.in_(letter_ids))
    ).all()
    issuers: dict[int, str] = dict(
        session.execute(  # type: ignore[arg-type]
            select(LetterRecord.cascade_id, LetterRecord.unit_code).where(
                LetterRecord.cascade_id.in_({c for _, c in rows}),
                LetterRecord.depth == 0,
                LetterRecord.kind == "letter",
            )
        ).all()
    )
    return {letter_id: (cascade_id, issuers.get(cascade_id, "?")) for letter_id, cascade_id in rows}


def all_sent(session: Session, cascade_id: int) -> bool:
    """Every letter of the cascade is with every recipient: the cascade is complete downwards."""
    states = set(
        session.scalars(
            select(LetterRecord.status).where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter")
        )
    )
    return states == {"sent"}


def cascades_of_requests(session: Session, request_ids: list[int]) -> dict[int, int]:
    """Each report request's cascade."""
    from db.models import ReportRequest

    rows = session.execute(select(ReportRequest.id, ReportRequest.cascade_id).where(ReportRequest.id.in_(request_ids)))
    return {request_id: cascade_id for request_id, cascade_id in rows}
