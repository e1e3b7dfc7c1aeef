"""What the flows show in Prefect's UI and say to Prefect's event bus: artifacts (each letter as it stands,
a cascade's counts, links to the desk and the replay page, the progress of long work) and events
(chidao.letter.signed, chidao.delivery.failed, chidao.report.overdue, chidao.cascade.completed), each with
the unit and the cascade as resources, so that automations (the dispatch deployment's trigger) can act.

Publishing is best-effort: the work is recorded in chidao's own database and event log whatever Prefect's
API answers; a failure to publish is logged, never raised.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from chidao import progress
from chidao.settings import settings
from db.cascades import letter_content
from db.engine import transaction
from db.models import LetterRecord

log = logging.getLogger("chidao.publish")


def _quietly(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # Prefect's API away: the record is chidao's, not the artifact
                log.warning("could not publish %s to Prefect: %s: %s", what, type(exc).__name__, exc)
                return None

        return run

    return wrap


def letter_key(letter: LetterRecord) -> str:
    return f"letter-{letter.cascade_id}-{letter.id}"


@_quietly("letters")
def letters(letter_ids: Sequence[int]) -> None:
    """Each letter as it stands now (draft, signed with its number, sent), a new version under its key."""
    from prefect.artifacts import create_markdown_artifact

    words = {"draft": "dự thảo", "rejected": "bị trả lại", "approved": "đã ký", "sent": "đã gửi"}
    with transaction(settings().url) as session:
        for letter_id in letter_ids:
            letter = session.get_one(LetterRecord, letter_id)
            content = letter_content(letter)
            create_markdown_artifact(
                markdown=letter.markdown,
                key=letter_key(letter),
                description=f"Đợt {letter.cascade_id}: {letter.unit_code}, số {content.reference} "
                f"({words.get(letter.status, letter.status)})",
            )


def letters_if_served(letter_ids: Sequence[int]) -> None:
    """After an edit, a submission, a return or a fresh draft (no flow run of their own): the letters' new
    versions, where a Prefect server is configured. In the embedded default no server is started for an
    artifact alone; the next flow run on the letter (its signature) publishes it as it stands."""
    if os.environ.get("PREFECT_API_URL"):
        letters(letter_ids)


@_quietly("a cascade's counts")
def cascade_table(cascade_id: int) -> None:
    """The cascade's counts per level (units; letters drafted, signed, sent, failed; reports in, overdue), a new
    version under `cascade-<id>` at every step, and links to its pages on the desk."""
    from prefect.artifacts import create_link_artifact, create_table_artifact

    rows = counts(cascade_id)
    create_table_artifact(
        table=rows,
        key=f"cascade-{cascade_id}",
        description=f"Đợt triển khai {cascade_id}: số đơn vị, văn bản và báo cáo theo cấp",
    )
    desk = os.environ.get("CHIDAO_DESK_URL", "http://127.0.0.1:8000").rstrip("/")
    create_link_artifact(link=f"{desk}/cascades/{cascade_id}", link_text="Trang đợt triển khai trên bàn làm việc",
                         key=f"cascade-{cascade_id}-desk")  # fmt: skip
    create_link_artifact(link=f"{desk}/cascades/{cascade_id}/replay", link_text="Trang xem lại lịch sử (kiểm toán)",
                         key=f"cascade-{cascade_id}-replay")  # fmt: skip


def counts(cascade_id: int) -> list[dict[str, int]]:
    from chidao.approval import today
    from chidao.counts import cascade_counts

    with transaction(settings().url) as session:
        return cascade_counts(session, cascade_id, today())


@contextmanager
def progress_artifact(title: str, every: float = 0.02) -> Iterator[None]:
    """A progress artifact in the current flow run, moved on by chidao.progress's reports (at least every 2%)."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    try:
        artifact: UUID | None = create_progress_artifact(progress=0.0, description=title)  # type: ignore[assignment]
    except Exception as exc:  # no API: the work goes on without its bar
        log.warning("no progress artifact: %s", exc)
        yield
        return
    shown = [0.0]

    def moved(_what: str, done: int, total: int) -> None:
        value = 100.0 * done / total if total else 100.0
        if value - shown[0] >= every * 100 or value >= 100.0:
            shown[0] = value
            try:
                update_progress_artifact(artifact_id=artifact, progress=min(value, 100.0))  # type: ignore[arg-type]
            except Exception as exc:
                log.warning("progress not updated: %s", exc)

    stop = progress.listen(moved)
    try:
        yield
    finally:
        stop()


@_quietly("an event")
def event(kind: str, *, unit: str, cascade_id: int, letter_id: int | None = None, **payload: Any) -> None:
    """`chidao.<kind>` about a unit, the cascade (and the letter) as related resources."""
    from prefect.events import emit_event

    resource = {"prefect.resource.id": f"chidao.unit.{unit}", "prefect.resource.name": unit}
    related = [{"prefect.resource.id": f"chidao.cascade.{cascade_id}", "prefect.resource.role": "cascade"}]
    if letter_id is not None:
        related.append({"prefect.resource.id": f"chidao.letter.{letter_id}", "prefect.resource.role": "letter"})
        resource["chidao.letter.id"] = str(letter_id)
    emit_event(event=f"chidao.{kind}", resource=resource, related=related, payload=payload)
