"""Work a desk request asks for but must not wait on: the consolidated reports (BÁO CÁO) drafted after a
report comes in.

A clerk's submission returns at once; consolidation runs in a thread of the server process. Submissions that
arrive while it runs ask for one more run, never one each, so at most one consolidation runs at a time per
process and a burst of reports costs two runs, not a queue. A failure is logged (the server's log), never
lost; the next submission, `chidao reports consolidate` or the reminder sweep drafts what was missed.
"""

from __future__ import annotations

import logging
import threading

from chidao import approval
from db.engine import transaction

log = logging.getLogger("chidao.desk")


class Consolidation:
    """Consolidation of the reports due, on the database at url, one run at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._asked = False  # asked since the running one started (or since the last run)
        self._running = False
        self.runs = 0  # runs finished, failed ones included
        self.failures = 0

    def ask(self) -> None:
        """Draft the BÁO CÁO now due, soon: in the running thread's next round, or in a new thread."""
        with self._lock:
            self._asked = True
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._work, name="chidao-consolidation", daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Until nothing is asked or running: what was submitted before is consolidated (tests; shutdown).
        False if the timeout came first."""
        with self._lock:
            return self._settled.wait_for(lambda: not (self._asked or self._running), timeout)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._asked:
                    self._running = False
                    self._settled.notify_all()
                    return
                self._asked = False
            self._once()

    def _once(self) -> None:
        from chidao.consolidation import consolidate_all

        try:
            with transaction(self.url) as db:  # as after `chidao reports submit`
                drafted = consolidate_all(db, approval.today())
                units = [letter.unit_code for letter in drafted]
            if units:
                log.info("consolidated reports drafted for %s", ", ".join(units))
        except Exception:  # the submission is kept; the next one, or `chidao reports consolidate`, drafts it
            with self._lock:
                self.failures += 1
            log.exception("consolidating the reports after a submission failed")
        finally:
            with self._lock:
                self.runs += 1
