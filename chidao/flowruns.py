"""Prefect's side of a cascade: the flow runs its events name, read back through the Prefect client.

chidao's own events are the record; this only points an auditor to the runs in the Prefect UI. With no
server configured (PREFECT_API_URL unset) the client reads Prefect's embedded database, where embedded
runs were recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Event


@dataclass(frozen=True)
class FlowRunInfo:
    id: str
    flow: str
    name: str
    state: str  # Prefect's state name (Completed, Failed, …), or "not found" on this API
    start: datetime | None
    end: datetime | None
    url: str | None  # the run's page in the Prefect UI, where a UI address is known

    def to_data(self) -> dict[str, object]:
        return asdict(self)


def run_ids(session: Session, cascade_id: int) -> list[str]:
    """The flow runs the cascade's events were recorded in, in order of first appearance."""
    rows = session.execute(
        select(Event.flow_run_id, Event.seq)
        .where(Event.cascade_id == cascade_id, Event.flow_run_id.is_not(None))
        .order_by(Event.seq)
    ).all()
    seen: dict[str, None] = {}
    for run_id, _ in rows:
        if run_id is not None:
            seen.setdefault(run_id, None)
    return list(seen)


def read_flow_runs(ids: list[str]) -> list[FlowRunInfo]:
    """Each run's flow, name, state and times from the Prefect API, in the order given."""
    return asyncio.run(_read(ids)) if ids else []


async def _read(ids: list[str]) -> list[FlowRunInfo]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterId, FlowRunFilter, FlowRunFilterId
    from prefect.settings import get_current_settings

    ui = get_current_settings().ui_url
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in ids]))
        )
        flows = {
            flow.id: flow.name
            for flow in await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=[r.flow_id for r in runs])))
        }
    by_id = {str(run.id): run for run in runs}
    out = []
    for run_id in ids:
        run = by_id.get(run_id)
        if run is None:
            out.append(FlowRunInfo(run_id, "", "", "not found", None, None, None))
            continue
        out.append(
            FlowRunInfo(
                run_id,
                flows.get(run.flow_id, ""),
                run.name,
                run.state_name or "unknown",
                run.start_time,
                run.end_time,
                f"{ui.rstrip('/')}/runs/flow-run/{run_id}" if ui else None,
            )
        )
    return out


class PrefectUnavailable(Exception):
    """PREFECT_API_URL names a server that does not answer."""


def check_prefect_server() -> None:
    """With PREFECT_API_URL set, its server must answer before a flow is started there (else one message,
    not Prefect's traceback); without it, flows run on an embedded server started on demand."""
    import os

    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise PrefectUnavailable(f"the Prefect server at {url} does not answer ({type(problem).__name__})")
