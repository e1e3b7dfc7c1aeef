"""The Prefect flow run a piece of work belongs to, for the event log."""

from __future__ import annotations

from prefect.runtime import flow_run


def current_run_id() -> str | None:
    """The id of the flow run this code runs in, or None outside one."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None
