"""Worker processes for CPU-bound work (drawing documents, checking signatures), so that every core works."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_pool(count: int) -> ProcessPoolExecutor:
    """`count` worker processes started by a fork server: from a clean process, not from a copy of this one (its
    database connections, its threads: Prefect's, the desk's); each keeps what it loaded between jobs."""
    return ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("forkserver"))
