"""The `remind` flow: one reminder sweep (due soon, overdue, escalations), each notice sent once; then the
consolidated reports whose deadline has come are drafted.

Needs: CHIDAO_DATABASE_URL and CHIDAO_SMTP_URL where it runs. Deployed in prefect.yaml to run every
working morning; on a holiday or an issuer's day off it sends nothing. Two sweeps at once send one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger

from chidao.consolidation import consolidate_all
from chidao.dispatch import smtp_config
from chidao.reminders import sweep
from chidao.settings import settings
from db.engine import transaction
from db.events import in_flow_run
from db.migrate import upgrade
from flows.runs import current_run_id


@flow(name="remind")
def remind(at: datetime | None = None) -> dict[str, int]:
    """Sweep as of `at` (default: now); returns how many of each notice went out."""
    url = settings().url
    upgrade(url)
    with in_flow_run(current_run_id()):
        report = sweep(url, smtp_config(), at or datetime.now(UTC))
        with transaction(url) as session:  # deadlines that came today: draft those units' BÁO CÁO
            drafted = consolidate_all(session, report.day)
    counts = {kind: report.count(kind) for kind in ("due_soon", "overdue", "escalation")}
    counts["reports_drafted"] = len(drafted)
    get_run_logger().info("reminder sweep of %s: %s", report.day, counts)
    return counts
