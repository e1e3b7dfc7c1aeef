"""The `dispatch` flow: e-mail approved letters to every recipient that does not have them yet.

Needs: CHIDAO_DATABASE_URL and CHIDAO_SMTP_URL where it runs. Safe to run again at any time and
from several workers at once: each recipient is sent to once (see chidao.dispatch). With a Prefect
server, `chidao approve` queues a run of this deployment (CHIDAO_DISPATCH=deployment).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from chidao.dispatch import dispatch as send_due
from chidao.settings import settings
from db.events import in_flow_run
from db.migrate import upgrade
from flows.runs import current_run_id


@flow(name="dispatch")
def dispatch(letter_ids: list[int] | None = None, waiting: bool = False) -> dict[str, int]:
    """Send what is due, for the given letters or all (waiting: deferred copies too, before their time);
    returns counts per outcome. Scheduled every few minutes, so deferred mail goes again by itself."""
    url = settings().url
    upgrade(url)
    with in_flow_run(current_run_id()):
        report = send_due(url, letter_ids=letter_ids, waiting=waiting or letter_ids is not None)
    counts = {status: report.count(status) for status in ("sent", "failed", "pending")}
    logger = get_run_logger()
    logger.info("dispatch: %s", counts)
    if report.gave_up:
        logger.warning("dispatch stopped: %s; deferred copies go again from %s", report.gave_up, report.retry_at)
    return counts
