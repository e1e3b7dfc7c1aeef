"""Progress of long work, reported by tasks and shown by whoever listens (the CLI's progress bar)."""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, int, int], None]  # (what, done, total)
_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(listener: Listener) -> Callable[[], None]:
    """Register a listener; returns the function that unregisters it."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            _listeners.remove(listener)

    return stop


def report(what: str, done: int, total: int) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(what, done, total)
