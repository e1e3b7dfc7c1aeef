"""The `remind` flow: one reminder sweep (due soon, overdue, escalations), each notice sent once; then the
consolidated reports whose deadline has come are drafted.

Needs: CHIDAO_DATABASE_URL and CHIDAO_SMTP_URL where it runs. Deployed in prefect.yaml to run every
working morning; on a holiday or an issuer's day off it sends nothing. Two sweeps at once send one. Each
overdue unit is a `chidao.report.overdue` event; each cascade touched gets its counts anew.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger

from chidao.consolidation import consolidate_all
from chidao.counts import cascades_of_requests
from chidao.dispatch import smtp_config
from chidao.reminders import sweep
from chidao.settings import settings
from db.engine import transaction
from db.events import in_flow_run
from db.migrate import upgrade
from flows import publish
from flows.runs import current_run_id


def _name() -> str:
    from prefect.runtime import flow_run

    at = (flow_run.parameters or {}).get("at")
    return f"remind {at:%d/%m/%Y}" if isinstance(at, datetime) else "remind: today's sweep"


@flow(name="remind", flow_run_name=_name)
def remind(at: datetime | None = None) -> dict[str, Any]:
    """Sweep as of `at` (default: now); returns how many of each notice went out, those that did not, and the
    consolidated reports drafted."""
    url = settings().url
    upgrade(url)
    logger = get_run_logger()
    with in_flow_run(current_run_id()), publish.progress_artifact("Nhắc hạn báo cáo"):
        report = sweep(url, smtp_config(), at or datetime.now(UTC))
        with transaction(url) as session:  # deadlines that came today: draft those units' BÁO CÁO
            drafted = consolidate_all(session, report.day)
            cascade_of = cascades_of_requests(session, [n.request_id for n in report.notices])
    counts: dict[str, Any] = {kind: report.count(kind) for kind in ("due_soon", "overdue", "escalation")}
    counts["reports_drafted"] = len(drafted)
    logger.info("reminder sweep of %s: %s", report.day, counts)
    counts |= {
        "day": report.day.isoformat(),
        "working_day": report.working_day,
        "not_sent": [[n.kind, n.unit, n.to, n.status] for n in report.notices if n.status != "sent"],
        "drafted": [[r.id, r.unit_code] for r in drafted],
    }
    for notice in report.notices:
        if notice.kind == "overdue" and notice.request_id in cascade_of:
            publish.event("report.overdue", unit=notice.unit, cascade_id=cascade_of[notice.request_id])
    for cascade_id in sorted(set(cascade_of.values())):
        publish.cascade_table(cascade_id)
    return counts
