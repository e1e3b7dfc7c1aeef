"""The `remind` flow: one reminder sweep (due soon, overdue, escalations), each notice sent once.

Needs: CHIDAO_DATABASE_URL and CHIDAO_SMTP_URL where it runs. Deployed in prefect.yaml to run every
working morning; on a holiday or an issuer's day off it sends nothing. Two sweeps at once send one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger

from chidao.dispatch import smtp_config
from chidao.reminders import sweep
from chidao.settings import settings
from db.migrate import upgrade


@flow(name="remind")
def remind(at: datetime | None = None) -> dict[str, int]:
    """Sweep as of `at` (default: now); returns how many of each notice went out."""
    url = settings().url
    upgrade(url)
    report = sweep(url, smtp_config(), at or datetime.now(UTC))
    counts = {kind: report.count(kind) for kind in ("due_soon", "overdue", "escalation")}
    get_run_logger().info("reminder sweep of %s: %s", report.day, counts)
    return counts
