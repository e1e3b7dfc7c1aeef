"""Run as a file, not imported: `python cli/watcher.py PID`. Waits for the chidao command PID to end, then stops
every process still marked as its own (CHIDAO_COMMAND_PID=PID in its environment): the temporary Prefect
server the command started, which outlives a command killed outright (SIGKILL). Linux (/proc) only; its own
imports are the standard library's, so that it starts in milliseconds."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

MARK = "CHIDAO_COMMAND_PID"


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie (killed, not yet reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def marked(owner: int) -> list[int]:
    """The processes (ours to see) whose environment carries the owner's mark, this watcher aside."""
    mark = f"{MARK}={owner}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), owner):
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def watch(owner: int, every: float = 1.0, grace: float = 5.0) -> list[int]:
    """Wait for the owner to end; SIGTERM what it left, SIGKILL what is still there after the grace."""
    while running(owner):
        time.sleep(every)
    left = marked(owner)
    for pid in left:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [pid for pid in left if running(pid)]
    for pid in left:
        _signal(pid, signal.SIGKILL)
    return left


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, sig)


if __name__ == "__main__":
    watch(int(sys.argv[1]))
