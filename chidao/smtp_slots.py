"""The SMTP connections all dispatchers together may open: with a Prefect server, slots of its global
concurrency limit; in the embedded default, one process sends with its own few connections."""

from __future__ import annotations

import logging
import os
from contextlib import AbstractAsyncContextManager, nullcontext

SMTP_LIMIT = "smtp-connections"


class _Once(logging.Filter):
    """Prefect warns at every connection that the limit does not exist: once per process says it (other
    messages pass untouched)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "skipping acquisition" not in message:
            return True
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def smtp_slot() -> AbstractAsyncContextManager[object]:
    """One of the SMTP connections that all dispatchers together may open: with a Prefect server, a slot of
    its global concurrency limit `smtp-connections` (`prefect gcl create smtp-connections --limit 4`; none
    is taken where the limit does not exist); in the embedded default, one process sends, with CONNECTIONS."""
    if not os.environ.get("PREFECT_API_URL"):
        return nullcontext()
    from prefect.concurrency.asyncio import concurrency

    for name in ("prefect.concurrency", "prefect.flow_runs"):  # the latter inside a flow run
        if not any(isinstance(f, _Once) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(_Once())

    return concurrency(SMTP_LIMIT, occupy=1, strict=False)
