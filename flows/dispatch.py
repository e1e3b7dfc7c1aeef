"""The `dispatch` flow: e-mail signed letters to every recipient that does not have them yet.

Needs: CHIDAO_DATABASE_URL and CHIDAO_SMTP_URL where it runs. Safe to run again at any time and from several
workers at once: each recipient is sent to once (see chidao.dispatch), and with a Prefect server the
global concurrency limit `smtp-connections` caps the SMTP connections open across all workers. Deployed
in prefect.yaml to run every 5 minutes (deferred copies go again by themselves) and on every
`chidao.letter.signed` event (the letter goes out as soon as it is signed).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from chidao.counts import all_sent, cascades_of
from chidao.dispatch import Delivery, DispatchReport, send_letters
from chidao.dispatch import dispatch as send_due
from chidao.settings import settings
from db.engine import transaction
from db.events import in_flow_run
from db.migrate import upgrade
from db.models import LetterRecord
from flows import publish
from flows.runs import current_run_id


def _name() -> str:
    """`dispatch 01/VHTT of 183.VHTT`, or `dispatch: what is due`."""
    from prefect.runtime import flow_run

    from db.cascades import letter_content

    parameters = flow_run.parameters or {}
    wanted = list(parameters.get("letter_ids") or []) + (
        [parameters["letter_id"]] if parameters.get("letter_id") else []
    )
    if not wanted:
        return "dispatch: what is due"
    try:
        with transaction(settings().url) as session:
            rows = [session.get_one(LetterRecord, int(i)) for i in wanted[:3]]
            # every district's first letter is 01/VHTT: the unit tells them apart
            references = [f"{letter_content(row).reference} of {row.unit_code}" for row in rows]
    except Exception:  # a name is not worth a failed run
        references = [f"letter {i}" for i in wanted[:3]]
    return "dispatch " + ", ".join(references) + (f" and {len(wanted) - 3} more" if len(wanted) > 3 else "")


@flow(name="dispatch", flow_run_name=_name)
def dispatch(
    letter_ids: list[int] | None = None, waiting: bool = False, letter_id: int | str | None = None
) -> DispatchReport:
    """Send what is due, for the given letters (letter_id: the one a chidao.letter.signed event names, as text
    when the deployment's trigger renders it from the event) or all (waiting: deferred copies too, before their
    time); returns each delivery (the run's log has the counts)."""
    url = settings().url
    upgrade(url)
    wanted = list(letter_ids or []) + ([int(letter_id)] if letter_id else [])
    logger = get_run_logger()
    with in_flow_run(current_run_id()), publish.progress_artifact("Gửi thư điện tử"):
        report = send_letters(url, wanted) if wanted else send_due(url, waiting=waiting)
    counts = {status: report.count(status) for status in ("sent", "failed", "pending")}
    logger.info("dispatch: %s", counts)  # sent, failed, pending (deferred)
    if report.gave_up:
        logger.warning("dispatch stopped: %s; deferred copies go again from %s", report.gave_up, report.retry_at)
    touched = sorted({d.letter_id for d in report.deliveries})
    if touched:
        _publish(touched, report.deliveries)
    return report


def _publish(letter_ids: list[int], deliveries: list[Delivery]) -> None:
    """The letters as they stand now, their cascades' counts, and the events of what happened."""
    publish.letters(letter_ids)
    with transaction(settings().url) as session:
        cascade_of = cascades_of(session, letter_ids)
        cascades = {cascade_id for cascade_id, _ in cascade_of.values()}
        complete = {cascade_id for cascade_id in cascades if all_sent(session, cascade_id)}
    for delivery in deliveries:
        if delivery.status == "failed":
            publish.event(
                "delivery.failed",
                unit=delivery.unit,
                cascade_id=cascade_of[delivery.letter_id][0],
                letter_id=delivery.letter_id,
                reason=delivery.detail,
            )
    for cascade_id in cascades:
        publish.cascade_table(cascade_id)
    issuer = {cascade_id: unit for cascade_id, unit in cascade_of.values()}
    for cascade_id in complete:
        publish.event("cascade.completed", unit=issuer[cascade_id], cascade_id=cascade_id)
