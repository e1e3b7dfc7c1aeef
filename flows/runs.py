"""Flow runs: the one a piece of work belongs to (for the event log), and how this process runs its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings


def current_run_id() -> str | None:
    """The id of the flow run this code runs in, or None outside one."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


@contextmanager
def inline() -> Iterator[None]:
    """Flow runs made inside run without Prefect's heartbeat thread.

    Heartbeats let an automation find a run whose process died; a flow this process calls itself (the CLI,
    the desk) is watched by the process that called it, and the outbox, not Prefect's state, is what makes a
    killed dispatch safe. The thread also costs every run a second at its end: it sleeps in one-second steps
    and the run waits to join it (a trivial flow: 1.07 s with it, 0.06 s without). Runs a worker starts from
    a deployment do not come through here and keep Prefect's heartbeats."""
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
